"""Fuzzing the frame decoder and the dispatcher: whatever a client sends, the server answers
with well-formed frames and statuses the SDK understands, or closes; it never fails."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kibitz.protocol._msync import FrameError, decode_frame, decode_payload, jid, pb
from kibitz.server.domain.accounts import NewUser
from kibitz.server.transport.msync.connection import ConnState
from kibitz.server.transport.msync.dispatch import Dispatcher
from tests.conftest import AppHarness

from .fakes import FakeSocket, outbox, provisioned

pytestmark = pytest.mark.anyio

APP_KEY = "acme#chat"
names = st.sampled_from(["alice", "bob", "nobody", "", "Bad Name", "x" * 80, "carol"])
uint64 = st.integers(min_value=0, max_value=2**64 - 1)


@st.composite
def contents(draw: st.DrawFn) -> pb.MessageBody.Content:
    c = pb.MessageBody.Content(type=draw(st.integers(0, 8)))
    if draw(st.booleans()):
        c.text = draw(st.text(max_size=50))
    if draw(st.booleans()):
        c.latitude = draw(st.floats(allow_nan=True))
        c.longitude = draw(st.floats(allow_nan=True))
    if draw(st.booleans()):
        c.action = draw(st.text(max_size=10))
    if draw(st.booleans()):
        c.custom_event = draw(st.text(max_size=10))
        for key in draw(st.lists(st.text(max_size=5), max_size=20)):
            c.custom_exts.append(pb.KeyValue(key=key, type=7, string_value="v"))
    return c


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=64))
    body = pb.MessageBody(type=draw(st.integers(0, 8)), to_jid=pb.JID(name=draw(names)))
    body.contents.extend(draw(st.lists(contents(), max_size=2)))
    for key in draw(st.lists(st.text(max_size=5), max_size=3)):
        body.ext.append(pb.KeyValue(key=key, type=draw(st.integers(0, 8)), varint_value=1))
    if draw(st.booleans()):
        body.ack_message_id = draw(uint64)
    return body.SerializeToString()


@st.composite
def sync_payloads(draw: st.DrawFn) -> bytes:
    ul = pb.CommSyncUL()
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.binary(max_size=64))
    if choice == 1:
        ul.meta.id = draw(uint64)
        ul.meta.ns = draw(st.integers(0, 6))
        ul.meta.routetype = draw(st.integers(0, 2))
        ul.meta.to_jid.CopyFrom(jid(APP_KEY, draw(names)))
        ul.meta.payload = draw(bodies())
    elif choice == 2:
        domain = draw(st.sampled_from(["easemob.com", "conference.easemob.com", ""]))
        ul.queue.CopyFrom(jid(APP_KEY, draw(names), domain, draw(st.sampled_from(["", "r"]))))
        if draw(st.booleans()):
            ul.key = draw(uint64)
    return ul.SerializeToString()


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=200))
    command = draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3, 4]))
    payload = draw(sync_payloads()) if command == 0 else draw(st.binary(max_size=32))
    frame = pb.MSync(command=command, payload=payload)
    if draw(st.booleans()):
        frame.trace_id = draw(uint64)
    return frame.SerializeToString()


@given(data=st.binary(max_size=300))
def test_decode_frame_accepts_or_raises_frame_error(data: bytes) -> None:
    try:
        decode_frame(data)
    except FrameError:
        pass


ALLOWED_DENIED = {"Sorry, data is too large"}


def check_reply(frame: pb.MSync) -> None:
    """Every frame the server sends is one the SDK can handle."""
    if frame.command == pb.MSync.SYNC:
        dl = decode_payload(pb.CommSyncDL, frame.payload)
        if dl.status.error_code == pb.Status.PERMISSION_DENIED:
            assert dl.status.reason in ALLOWED_DENIED
        if dl.metas:
            assert dl.HasField("queue") and not dl.is_last
            assert all(m.HasField("from_jid") for m in dl.metas)
        if not dl.metas and not dl.meta_id and dl.status.error_code == pb.Status.OK:
            assert dl.is_last and dl.HasField("queue")
    elif frame.command == pb.MSync.UNREAD:
        dl_u = decode_payload(pb.CommUnreadDL, frame.payload)
        assert dl_u.status.error_code == pb.Status.OK and dl_u.timestamp > 0
    elif frame.command == pb.MSync.NOTICE:
        assert decode_payload(pb.CommNotice, frame.payload).queue.name
    else:
        assert frame.command == pb.MSync.PROVISION


@pytest.fixture
async def fuzz_harness(harness_factory: Callable[..., Awaitable[AppHarness]]) -> AppHarness:
    h = await harness_factory()
    await h.services.accounts.register(h.app, [NewUser("alice"), NewUser("bob")])
    return h


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(frames(), min_size=1, max_size=6))
async def test_dispatcher_survives_anything(
    fuzz_harness: AppHarness, sequence: list[bytes]
) -> None:
    s, app = fuzz_harness.services, fuzz_harness.app
    alice = await s.accounts.get(app, "alice")
    token = s.auth.issue_user_token(app, alice).access_token
    conn = await provisioned(s, FakeSocket(), app.app_key, "alice", token, "fuzz")
    dispatch = Dispatcher(s)
    for data in sequence:
        if conn.closing:
            break
        await dispatch(conn, data)  # must not raise
    for frame in outbox(conn):
        check_reply(frame)
    assert conn.state in (ConnState.PROVISIONED, ConnState.CLOSED)
    if conn.state is ConnState.CLOSED:
        assert conn.closing
