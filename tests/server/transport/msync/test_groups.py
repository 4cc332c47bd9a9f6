"""Group messages over msync with real groups (created through the domain, as REST does):
one row per message in the group's queue, every member device but the sending one told,
offline members find it in UNREAD, and the refusals the Web SDK maps (602, 605)."""

from __future__ import annotations

import pytest

from kibitz.protocol._msync import GROUP_DOMAIN, encode_frame, pb
from kibitz.server.domain.groups import GroupSpec, group_key
from kibitz.server.storage.schema import inbox

from ..rest.support import FakeClock
from .client import MsyncClient
from .conftest import Gateway, GatewayFactory
from .test_conversations import pull_group, send_to, typed

pytestmark = pytest.mark.anyio


async def unread(c: MsyncClient) -> dict[tuple[str, str], int]:
    """The UNREAD summary by queue jid (name, domain)."""
    await c.send_raw(encode_frame(pb.MSync.UNREAD))
    reply = await c.expect(lambda f: f.msync.command == pb.MSync.UNREAD)
    return {(q.queue.name, q.queue.domain or "easemob.com"): q.n for q in reply.inner.unread}


async def _group(gateway: Gateway, owner: str, *members: str) -> str:
    spec = GroupSpec(name="team", owner=owner, members=members)
    group = await gateway.services.groups.create(gateway.harness.app, spec)
    return group.id


async def test_members_on_every_device_get_a_group_message_once(gateway: Gateway) -> None:
    alice, bob, carol = [await gateway.user(n) for n in ("alice", "bob", "carol")]
    gid = await _group(gateway, "alice", "bob", "carol")
    a1, a2 = await gateway.client(alice, "a1"), await gateway.client(alice, "a2")
    b = await gateway.client(bob, "b1")
    ack = await send_to(a1, gid, typed(pb.MessageBody.GROUPCHAT, gid))
    assert ack.status.error_code == pb.Status.OK and ack.server_id > 0
    for device in (b, a2):
        notice = await device.notice()
        assert (notice.queue.name, notice.queue.domain) == (gid, GROUP_DOMAIN)
    (meta,) = (await pull_group(b, gid)).metas
    assert meta.id == ack.server_id and meta.from_jid.name == "alice"
    assert [m.id for m in (await pull_group(a2, gid)).metas] == [ack.server_id]
    assert not (await pull_group(a1, gid)).metas  # no echo to the sending session
    c = await gateway.client(carol, "c1")  # offline until now
    assert (await unread(c))[(gid, GROUP_DOMAIN)] == 1
    assert [m.id for m in (await pull_group(c, gid)).metas] == [ack.server_id]
    async with gateway.services.engine.connect() as conn:
        rows = (await conn.execute(inbox.select().where(inbox.c.owner == group_key(gid)))).all()
    assert len(rows) == 1  # one row for three members


async def test_a_non_member_cannot_send_and_reads_nothing(gateway: Gateway) -> None:
    alice, dave = await gateway.user("alice"), await gateway.user("dave")
    gid = await _group(gateway, "alice")
    a = await gateway.client(alice)
    await send_to(a, gid, typed(pb.MessageBody.GROUPCHAT, gid))
    d = await gateway.client(dave)
    ack = await send_to(d, gid, typed(pb.MessageBody.GROUPCHAT, gid))
    assert (ack.status.error_code, ack.status.reason) == (
        pb.Status.FAIL,
        "not in group or chatroom",
    )
    assert not (await pull_group(d, gid)).metas


async def test_a_member_who_left_gets_no_more(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    gid = await _group(gateway, "alice", "bob")
    app = gateway.harness.app
    await gateway.services.groups.leave(app, gid, "bob")
    a = await gateway.client(alice)
    assert (await send_to(a, gid, typed(pb.MessageBody.GROUPCHAT, gid))).status.error_code == 0
    b = await gateway.client(bob)
    assert (gid, GROUP_DOMAIN) not in await unread(b)
    assert not (await pull_group(b, gid)).metas


async def test_a_destroyed_group_is_not_found_and_its_rows_are_gone(gateway: Gateway) -> None:
    alice = await gateway.user("alice")
    gid = await _group(gateway, "alice")
    a = await gateway.client(alice, "a1")
    await send_to(a, gid, typed(pb.MessageBody.GROUPCHAT, gid))
    await gateway.services.groups.destroy(gateway.harness.app, gid, "alice")
    ack = await send_to(a, gid, typed(pb.MessageBody.GROUPCHAT, gid))
    assert (ack.status.error_code, ack.status.reason) == (pb.Status.FAIL, "group not found")
    async with gateway.services.engine.connect() as conn:
        owned = inbox.select().where(inbox.c.owner == group_key(gid))
        assert (await conn.execute(owned)).all() == []


async def test_a_new_or_returning_member_starts_at_the_head(
    gateway_factory: GatewayFactory,
) -> None:
    """What was said before a member (re)joined is history, not unread: neither counted in
    UNREAD nor pulled (to the millisecond: the clock moves between the steps)."""
    clock = FakeClock()
    gateway = await gateway_factory(clock=clock)
    alice, bob, dave = [await gateway.user(n) for n in ("alice", "bob", "dave")]
    app = gateway.harness.app
    gid = await _group(gateway, "alice", "bob")
    a = await gateway.client(alice, "a1")
    d = await gateway.client(dave, "d1")  # dave's device exists before he joins
    await send_to(a, gid, typed(pb.MessageBody.GROUPCHAT, gid))
    clock.advance(0.005)
    await gateway.services.groups.add_members(app, gid, None, ["dave"])
    assert (gid, GROUP_DOMAIN) not in await unread(d)
    await gateway.services.groups.leave(app, gid, "bob")
    out = await send_to(a, gid, typed(pb.MessageBody.GROUPCHAT, gid))  # while bob is out
    clock.advance(0.005)
    await gateway.services.groups.add_members(app, gid, None, ["bob"])
    clock.advance(0.005)
    after = await send_to(a, gid, typed(pb.MessageBody.GROUPCHAT, gid))
    assert [m.id for m in (await pull_group(d, gid)).metas] == [out.server_id, after.server_id]
    b = await gateway.client(bob, "b1")  # bob's first device: it starts at his rejoining
    assert [m.id for m in (await pull_group(b, gid)).metas] == [after.server_id]


async def test_a_send_to_a_name_no_group_can_have_is_an_invalid_id(gateway: Gateway) -> None:
    alice = await gateway.user("alice")
    a = await gateway.client(alice)
    ack = await send_to(a, "not-a-group", typed(pb.MessageBody.GROUPCHAT, "not-a-group"))
    assert (ack.status.error_code, ack.status.reason) == (
        pb.Status.FAIL,
        "group ID illegal, please check it",
    )
