"""Bytes on the wire, built once and patched per message.

The generator must cost far less than the server it measures, so every hot frame is a
pre-encoded template: a WebSocket header with a zero masking key (legal: the key only has
to be present, and XOR with zero leaves the payload as is, so nothing is masked per byte),
an ``MSync`` envelope, and a 100-byte text whose fixed-width marker carries the send time.
Only the marker digits and the client's local message id change between two sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kibitz.protocol._msync import GROUP_DOMAIN, USER_DOMAIN, jid, pb, varint

__all__ = [
    "MARKER",
    "MARKER_RE",
    "PAYLOAD_BYTES",
    "Marker",
    "SendTemplate",
    "marker_text",
    "parse_marker",
    "pull_frame",
    "sync_ack_frame",
    "varint",
    "ws_frame",
]

PAYLOAD_BYTES: Final = 100
MARKER: Final = b"KBZ"
# kind(1) phase(2) ts_ns(19) stream(7) seq(9): 38 bytes after the 3-byte marker.
_BODY_LEN: Final = 38
MARKER_RE: Final = re.compile(rb"KBZ(.{38})", re.DOTALL)
_PLACEHOLDER_ID: Final = 1 << 62  # any id in [2**56, 2**63) is a 9-byte varint
_ZERO_MASK: Final = b"\x00\x00\x00\x00"

UNREAD_FRAME_PAYLOAD: Final = pb.MSync(command=pb.MSync.UNREAD).SerializeToString()


def ws_header(length: int) -> bytes:
    """Header of one final binary frame from a client (mask bit set, zero key)."""
    if length < 126:
        return bytes((0x82, 0x80 | length)) + _ZERO_MASK
    if length < 65536:
        return bytes((0x82, 0x80 | 126)) + length.to_bytes(2, "big") + _ZERO_MASK
    return bytes((0x82, 0x80 | 127)) + length.to_bytes(8, "big") + _ZERO_MASK


def ws_frame(payload: bytes, opcode: int = 0x2) -> bytes:
    head = ws_header(len(payload))
    return bytes((0x80 | opcode,)) + head[1:] + payload


def _sync_envelope(inner: bytes) -> bytes:
    # MSync{command=SYNC (field 8, varint 0), payload (field 9, bytes)}
    return b"\x40\x00\x4a" + varint(len(inner)) + inner


def pull_frame(queue: bytes) -> bytes:
    """``SYNC CommSyncUL{queue}``: give me what is pending on this queue."""
    return ws_frame(_sync_envelope(b"\x1a" + varint(len(queue)) + queue))


def sync_ack_frame(queue: bytes, key: int) -> bytes:
    """``SYNC CommSyncUL{queue, key}``: everything ≤ key is received; send more."""
    return ws_frame(_sync_envelope(b"\x1a" + varint(len(queue)) + queue + b"\x10" + varint(key)))


@dataclass(frozen=True, slots=True)
class Marker:
    kind: int  # one ASCII letter: what the message is for (ping, pong, fan-out, …)
    phase: int
    sent_ns: int  # time.monotonic_ns() the send was scheduled for
    stream: int  # who sent it (user index)
    seq: int


def marker_text(kind: int, phase: int, sent_ns: int, stream: int, seq: int) -> bytes:
    """The 38 marker bytes after ``KBZ``."""
    return b"%c%02d%019d%07d%09d" % (kind, phase % 100, sent_ns, stream, seq)


def parse_marker(body: bytes) -> Marker:
    """The 38 bytes captured by ``MARKER_RE``."""
    return Marker(body[0], int(body[1:3]), int(body[3:22]), int(body[22:29]), int(body[29:38]))


def _text() -> str:
    head = MARKER + marker_text(ord("P"), 0, 0, 0, 0)
    return (head + b"x" * (PAYLOAD_BYTES - len(head))).decode("ascii")


class SendTemplate:
    """``SYNC CommSyncUL{meta}`` for one sender → one peer; ``frame()`` patches id and marker.

    The layout mirrors what the Web SDK sends (§5.8): no ``Meta.from``, a 1:1 CHAT body
    with ``from``/``to`` names and one TEXT content of ``PAYLOAD_BYTES`` bytes. With
    ``group`` the peer is a group id: a GROUPCHAT body to the group's conference jid.
    """

    __slots__ = ("_head", "_mid", "_tail")

    def __init__(self, app_key: str, sender: str, peer: str, group: bool = False) -> None:
        body = pb.MessageBody(
            type=pb.MessageBody.GROUPCHAT if group else pb.MessageBody.CHAT,
            from_jid=pb.JID(name=sender),
            to_jid=pb.JID(name=peer),
            contents=[pb.MessageBody.Content(type=pb.MessageBody.Content.TEXT, text=_text())],
        )
        meta = pb.Meta(
            id=_PLACEHOLDER_ID,
            to_jid=jid(app_key, peer, GROUP_DOMAIN if group else USER_DOMAIN),
            ns=pb.Meta.CHAT,
            routetype=pb.Meta.ROUTE_ALL,
            payload=body.SerializeToString(),
        )
        payload = _sync_envelope(pb.CommSyncUL(meta=meta).SerializeToString())
        frame = ws_header(len(payload)) + payload
        id_bytes = b"\x08" + varint(_PLACEHOLDER_ID)
        at_id = frame.index(id_bytes) + 1
        at_marker = frame.index(MARKER) + len(MARKER)
        if not at_id < at_marker:
            raise AssertionError("Meta.id is expected before the payload")
        self._head = frame[:at_id]
        self._mid = frame[at_id + 9 : at_marker]
        self._tail = frame[at_marker + _BODY_LEN :]

    def frame(self, local_id: int, marker: bytes) -> bytes:
        """``local_id`` must lie in [2**56, 2**63); ``marker`` is ``marker_text(...)``."""
        return b"".join((self._head, varint(local_id), self._mid, marker, self._tail))
