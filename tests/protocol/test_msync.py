"""The shared msync helpers: frames, ext attributes and contents round-trip exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import (
    Content,
    ContentKind,
    FrameError,
    content_from_pb,
    content_to_pb,
    decode_frame,
    encode_frame,
    ext_from_keyvalues,
    ext_to_keyvalues,
    jid,
    pb,
)

json_leaf = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
ext_values = (
    st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
    | st.dictionaries(st.text(max_size=5), json_leaf, max_size=4)
    | st.lists(json_leaf, max_size=4)
)


@given(st.dictionaries(st.text(max_size=10), ext_values, max_size=8))
def test_ext_round_trips_through_keyvalues(ext: dict[str, object]) -> None:
    wire = [pb.KeyValue.FromString(kv.SerializeToString()) for kv in ext_to_keyvalues(ext)]
    assert ext_from_keyvalues(wire) == ext


def test_ext_rejects_values_that_cannot_travel() -> None:
    with pytest.raises(ChatError) as info:
        ext_to_keyvalues({"n": 2**64})
    assert info.value.code is ErrorCode.MESSAGE_INVALID
    with pytest.raises(ChatError):
        ext_to_keyvalues({"f": float("nan")})


@pytest.mark.parametrize(
    "content",
    [
        Content(kind=ContentKind.TEXT, text="héllo"),
        Content(kind=ContentKind.CMD, action="typing"),
        Content(kind=ContentKind.CUSTOM, custom_event="gift", custom_exts={"n": "3"}),
        Content(kind=ContentKind.LOCATION, latitude=48.85, longitude=2.35, address="Paris"),
    ],
)
def test_content_round_trips(content: Content) -> None:
    wire = pb.MessageBody.Content.FromString(content_to_pb(content).SerializeToString())
    assert content_from_pb(wire) == content


@pytest.mark.parametrize(
    "content",
    [
        Content(kind=ContentKind.TEXT, text=""),
        Content(kind=ContentKind.CMD),
        Content(kind=ContentKind.CUSTOM),
        Content(kind=ContentKind.LOCATION, latitude=91.0),
    ],
)
def test_invalid_content_is_message_invalid(content: Content) -> None:
    with pytest.raises(ChatError) as info:
        content.validate()
    assert info.value.code is ErrorCode.MESSAGE_INVALID


def test_frame_round_trip_and_garbage() -> None:
    notice = pb.CommNotice(queue=jid("org#app", "alice"))
    frame = decode_frame(encode_frame(pb.MSync.NOTICE, notice))
    assert frame.command == pb.MSync.NOTICE
    assert pb.CommNotice.FromString(frame.payload).queue.name == "alice"
    with pytest.raises(FrameError):
        decode_frame(b"\xff\xff\xff")


@given(st.binary(max_size=200))
def test_decoding_random_bytes_raises_only_frame_error(data: bytes) -> None:
    try:
        decode_frame(data)
    except FrameError:
        pass
