"""Limits and misbehaving clients: slow consumers, idle sockets, oversized, malformed and
unexpected frames. Each ends in an error reply or a close, never in a server failure."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from kibitz.protocol._msync import decode_payload, encode_frame, jid, pb
from kibitz.server.domain.accounts import NewUser
from kibitz.server.domain.messaging import Sender
from kibitz.server.transport.msync.connection import ConnState
from tests.conftest import AppHarness

from .client import text_body
from .conftest import Gateway, GatewayFactory
from .fakes import FakeSocket, provisioned

pytestmark = pytest.mark.anyio


async def test_slow_consumer_is_dropped_and_its_messages_wait(
    harness_factory: Callable[..., Awaitable[AppHarness]],
) -> None:
    h = await harness_factory(send_queue_frames=8)
    s, app = h.services, h.app
    created = await s.accounts.register(app, [NewUser("alice"), NewUser("bob")])
    alice, bob = created.created
    token = s.auth.issue_user_token(app, alice).access_token
    sock = FakeSocket(blocked=True)  # alice's device stopped reading
    conn = await provisioned(s, sock, app.app_key, "alice", token, "a1")
    run = asyncio.create_task(conn.run())
    await s.messaging.send(Sender(app, "bob", bob.id, "b1"), "alice", text_body("alice", "hi"))
    for _ in range(20):
        sock.inbound.put_nowait(encode_frame(pb.MSync.UNREAD))
    await asyncio.wait_for(sock.closed.wait(), 5)
    assert sock.closed_with == (1013, "send queue full")
    await asyncio.wait_for(run, 5)
    assert conn.state is ConnState.CLOSED
    assert s.sessions.resources(app.id, "alice") == []
    counts = await s.sync.unread(alice.id, "a1")
    assert [(c.queue, c.count) for c in counts] == [("bob", 1)]


async def test_idle_connection_is_closed(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(idle_timeout_s=0.3)
    c = await gw.client(await gw.user("alice"))
    assert await c.closed() == 1000
    assert gw.services.sessions.count() == 0


async def test_heartbeats_keep_a_connection_alive(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(idle_timeout_s=0.3)
    c = await gw.client(await gw.user("alice"))
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < 0.7:  # longer than the idle limit, one UNREAD at a time
        assert await c.unread() == {}
    assert gw.services.sessions.count() == 1


async def test_no_login_in_time(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(provision_timeout_s=0.3)
    c = await gw.client()
    assert await c.closed() == 1000


async def test_oversized_frame_closes(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(max_frame_bytes=1024)
    c = await gw.client(await gw.user("alice"))
    await c.send_raw(b"\x00" * 2048)
    assert await c.closed() == 1009


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("a text frame", 1003),
        (b"\xff\xff\xff\xff", 1007),  # not protobuf
        (encode_frame(pb.MSync.UNREAD), 1008),  # before PROVISION
        (encode_frame(pb.MSync.NOTICE, pb.CommNotice()), 1008),
    ],
)
async def test_bad_first_frames_close(gateway: Gateway, frame: bytes | str, code: int) -> None:
    c = await gateway.client()
    await c.send_raw(frame)
    assert await c.closed() == code


async def test_unexpected_frames_after_login(gateway: Gateway) -> None:
    alice = await gateway.user("alice")
    c = await gateway.client(alice)
    await c.send_raw(encode_frame(pb.MSync.SYNC, b"\xff\xff"))
    reply = await c.expect(lambda f: f.msync.command == pb.MSync.SYNC)
    assert reply.inner.status.error_code == pb.Status.PB_PARSER_ERROR
    await c.send_raw(encode_frame(pb.MSync.SYNC, pb.CommSyncUL()))
    reply = await c.expect(lambda f: f.msync.command == pb.MSync.SYNC)
    assert reply.inner.status.error_code == pb.Status.MISSING_PARAMETER
    meta = pb.Meta(id=9, ns=pb.Meta.CHAT, to_jid=jid(gateway.app_key, "bob"), payload=b"\xff")
    ack = await c.send_meta(meta)
    assert (ack.status.error_code, ack.status.reason) == (pb.Status.FAIL, "malformed message")
    ack = await c.send_meta(pb.Meta(id=10, ns=pb.Meta.MUC))
    assert ack.status.error_code == pb.Status.FAIL
    group = pb.CommSyncUL(queue=jid(gateway.app_key, "123", "conference.easemob.com"))
    await c.send_raw(encode_frame(pb.MSync.SYNC, group))
    reply = await c.expect(lambda f: f.msync.command == pb.MSync.SYNC)
    assert reply.inner.is_last and not reply.inner.metas
    assert await c.unread() == {}  # still fine
    await c.send_raw(encode_frame(pb.MSync.PROVISION, pb.Provision()))  # a second login
    assert await c.closed() == 1008


async def test_logout_closes(gateway: Gateway) -> None:
    c = await gateway.client(await gateway.user("alice"))
    await c.send_raw(encode_frame(pb.MSync.LOGOUT, pb.Logout(reason="inner:logout")))
    assert await c.closed() == 1000


async def test_shutdown_closes_sessions(gateway: Gateway) -> None:
    c = await gateway.client(await gateway.user("alice"))
    for _, _, session in gateway.services.sessions.all_sessions():
        await session.close_for_shutdown()
    assert await c.closed() == 1001


async def test_a_notice_during_a_pull_is_sent_after_its_reply(
    harness_factory: Callable[..., Awaitable[AppHarness]],
) -> None:
    """The client drops notices for a queue it is still pulling: one that arrives while the
    server answers that pull must follow the answer, not precede it."""
    h = await harness_factory()
    s, app = h.services, h.app
    alice, bob = (await s.accounts.register(app, [NewUser("alice"), NewUser("bob")])).created
    token = s.auth.issue_user_token(app, bob).access_token
    conn = await provisioned(s, FakeSocket(), app.app_key, "bob", token, "b1")
    conn._outbox.clear()
    conn.begin_pull("alice")
    await s.messaging.send(Sender(app, "alice", alice.id, "a1"), "bob", text_body("bob", "x"))
    assert not conn._outbox  # held back
    conn.send(b"pull reply")
    conn.end_pull("alice")
    assert conn._outbox[0] == b"pull reply"
    notice = pb.MSync.FromString(conn._outbox[1] or b"")
    assert notice.command == pb.MSync.NOTICE
    assert decode_payload(pb.CommNotice, notice.payload).queue.name == "alice"
    await s.messaging.send(Sender(app, "alice", alice.id, "a1"), "bob", text_body("bob", "y"))
    assert len(conn._outbox) == 2  # one notice outstanding per queue until it is pulled


@pytest.mark.parametrize("key", [2**63, 2**64 - 1])
async def test_an_ack_key_no_message_can_have_is_refused(gateway: Gateway, key: int) -> None:
    """It used to reach the shared group commit, fail it (close 1011, a traceback) and slow
    every other user's sends while the batch was retried job by job."""
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    a = await gateway.client(alice)
    b = await gateway.client(bob)
    ul = pb.CommSyncUL(queue=jid(a.app_key, "bob"), key=key)
    await a.send_raw(encode_frame(pb.MSync.SYNC, ul))
    reply = await a.expect(lambda f: f.msync.command == pb.MSync.SYNC)
    assert reply.inner.status.error_code == pb.Status.WRONG_PARAMETER
    # the connection is fine, and so is everyone's writing
    assert (await b.send_text("alice", "still here")).status.error_code == pb.Status.OK
    assert [m.id for m in await a.pull("bob")] != []
    assert gateway.services.sessions.count() == 2
