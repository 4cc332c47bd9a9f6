"""The bench's hand-patched frames decode exactly as the SDK's would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kibitz.bench.stats import summarize_ns
from kibitz.bench.wire import (
    MARKER_RE,
    PAYLOAD_BYTES,
    SendTemplate,
    marker_text,
    parse_marker,
    pull_frame,
    sync_ack_frame,
)
from kibitz.protocol._msync import decode_frame, decode_payload, jid, pb


def unframe(frame: bytes) -> bytes:
    """A client WebSocket frame → its payload (the bench always masks with a zero key)."""
    assert frame[0] == 0x82 and frame[1] & 0x80
    length, at = frame[1] & 0x7F, 2
    if length == 126:
        length, at = int.from_bytes(frame[2:4], "big"), 4
    elif length == 127:
        length, at = int.from_bytes(frame[2:10], "big"), 10
    assert frame[at : at + 4] == b"\0\0\0\0"
    payload = frame[at + 4 :]
    assert len(payload) == length
    return payload


@given(
    local_id=st.integers(2**56, 2**63 - 1),
    due=st.integers(0, 10**19 - 1),
    stream=st.integers(0, 10**7 - 1),
    seq=st.integers(0, 10**9 - 1),
    phase=st.integers(0, 99),
)
def test_send_template_patches_id_and_marker(
    local_id: int, due: int, stream: int, seq: int, phase: int
) -> None:
    tmpl = SendTemplate("acme#chat", "alice", "bob")
    frame = tmpl.frame(local_id, marker_text(ord("P"), phase, due, stream, seq))
    env = decode_frame(unframe(frame))
    assert env.command == pb.MSync.SYNC
    meta = decode_payload(pb.CommSyncUL, env.payload).meta
    assert meta.id == local_id
    assert meta.to_jid == jid("acme#chat", "bob")
    assert meta.ns == pb.Meta.CHAT and not meta.HasField("from_jid")
    body = decode_payload(pb.MessageBody, meta.payload)
    assert (body.type, body.from_jid.name, body.to_jid.name) == (
        pb.MessageBody.CHAT,
        "alice",
        "bob",
    )
    text = body.contents[0].text.encode()
    assert len(text) == PAYLOAD_BYTES
    marker = parse_marker(MARKER_RE.findall(text)[0])
    assert (marker.kind, marker.phase, marker.sent_ns, marker.stream, marker.seq) == (
        ord("P"),
        phase,
        due,
        stream,
        seq,
    )


@given(key=st.integers(0, 2**64 - 1))
def test_pull_and_ack_frames(key: int) -> None:
    queue = jid("acme#chat", "alice")
    raw = queue.SerializeToString()
    pull = decode_payload(pb.CommSyncUL, decode_frame(unframe(pull_frame(raw))).payload)
    assert pull.queue == queue and not pull.HasField("key")
    ack = decode_payload(pb.CommSyncUL, decode_frame(unframe(sync_ack_frame(raw, key))).payload)
    assert ack.queue == queue and ack.key == key


def test_percentiles_are_nearest_rank() -> None:
    s = summarize_ns([range(1_000_000, 101_000_000, 1_000_000)])  # 1..100 ms
    assert s["count"] == 100
    assert (s["p50_ms"], s["p99_ms"], s["max_ms"]) == (50.0, 99.0, 100.0)
    assert summarize_ns([])["p99_ms"] is None
