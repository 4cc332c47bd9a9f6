"""Groups and rooms over msync: the domain decides (no conversation exists yet, so the
replies clients always got), and with a Conversations port that knows a group, a group
message travels notice → pull → ack in the group's one queue."""

from __future__ import annotations

import itertools

import pytest

from kibitz.protocol._msync import GROUP_DOMAIN, decode_payload, encode_frame, jid, pb
from kibitz.server.domain.delivery import TargetKind
from kibitz.server.domain.messaging import MessagingService
from kibitz.server.domain.sync import SyncService
from kibitz.server.storage.schema import cursors, inbox

from ...domain.conversation_fakes import FakeConversations
from .client import MsyncClient, text_body
from .conftest import Gateway

pytestmark = pytest.mark.anyio

_ids = itertools.count(9000)


async def send_to(
    c: MsyncClient, to: str, body: pb.MessageBody, domain: str = GROUP_DOMAIN
) -> pb.CommSyncDL:
    meta = pb.Meta(
        id=next(_ids),
        to_jid=jid(c.app_key, to, domain),
        ns=pb.Meta.CHAT,
        payload=body.SerializeToString(),
    )
    return await c.send_meta(meta)


async def pull_group(c: MsyncClient, name: str, key: int = 0) -> pb.CommSyncDL:
    ul = pb.CommSyncUL(queue=jid(c.app_key, name, GROUP_DOMAIN))
    if key:
        ul.key = key
    await c.send_raw(encode_frame(pb.MSync.SYNC, ul))
    frame = await c.expect(
        lambda f: (
            f.msync.command == pb.MSync.SYNC
            and not f.inner.meta_id
            and f.inner.queue.name == name
            and f.inner.queue.domain == GROUP_DOMAIN
        )
    )
    dl: pb.CommSyncDL = frame.inner
    return dl


def typed(kind: pb.MessageBody.Type, to: str = "123") -> pb.MessageBody:
    body = text_body(to, "hi")
    body.type = kind
    return body


@pytest.mark.parametrize(
    ("body", "domain", "reason"),
    [
        (typed(pb.MessageBody.GROUPCHAT), GROUP_DOMAIN, "group not found"),
        (typed(pb.MessageBody.GROUPCHAT), "easemob.com", "group not found"),
        (typed(pb.MessageBody.CHAT), GROUP_DOMAIN, "group not found"),  # by its domain
        (pb.MessageBody(type=pb.MessageBody.GROUPCHAT), GROUP_DOMAIN, "group not found"),
        (typed(pb.MessageBody.RECALL), GROUP_DOMAIN, "group not found"),
        (typed(pb.MessageBody.CHATROOM), GROUP_DOMAIN, "grpID 123 does not exist!"),
        (typed(pb.MessageBody.CHATROOM), "easemob.com", "grpID 123 does not exist!"),
    ],
)
async def test_sends_to_unknown_conversations_keep_their_replies(
    gateway: Gateway, body: pb.MessageBody, domain: str, reason: str
) -> None:
    a = await gateway.client(await gateway.user("alice"))
    ack = await send_to(a, "123", body, domain)
    assert (ack.status.error_code, ack.status.reason) == (pb.Status.FAIL, reason)
    assert ack.server_id == 0


async def test_a_pull_of_an_unknown_group_is_empty_and_stores_no_cursor(gateway: Gateway) -> None:
    a = await gateway.client(await gateway.user("alice"), "a1")
    dl = await pull_group(a, "123", key=77)
    assert dl.is_last and not dl.metas
    async with gateway.services.engine.connect() as conn:
        assert (await conn.execute(cursors.select())).all() == []


def wire_group(gateway: Gateway, members: dict[str, str]) -> FakeConversations:
    """A Conversations port that knows group "g1" (what the groups issue will add)."""
    s = gateway.services
    fake = FakeConversations()
    fake.add(gateway.harness.app.id, TargetKind.GROUP, "g1", members, key="group:g1")
    s.messaging = MessagingService(
        s.messages, s.cluster.bus, s.live_sessions, s.clock, conversations=fake
    )
    s.sync = SyncService(
        s.messages, batch_size=s.settings.sync_batch_size, counts=s.messaging, conversations=fake
    )
    return fake


async def test_a_group_message_is_one_row_every_member_pulls(gateway: Gateway) -> None:
    alice, bob, carol = [await gateway.user(n) for n in ("alice", "bob", "carol")]
    wire_group(gateway, {u.id: u.username for u in (alice, bob, carol)})
    a1, a2 = await gateway.client(alice, "a1"), await gateway.client(alice, "a2")
    b = await gateway.client(bob, "b1")
    ack = await send_to(a1, "g1", typed(pb.MessageBody.GROUPCHAT, "g1"))
    assert ack.status.error_code == pb.Status.OK and ack.server_id > 0
    for device in (b, a2):  # the sending device gets no notice
        notice = await device.notice()
        assert (notice.queue.name, notice.queue.domain) == ("g1", GROUP_DOMAIN)
    dl = await pull_group(b, "g1")
    (meta,) = dl.metas
    assert meta.id == ack.server_id
    assert (meta.to_jid.name, meta.to_jid.domain) == ("g1", GROUP_DOMAIN)
    assert decode_payload(pb.MessageBody, meta.payload).type == pb.MessageBody.GROUPCHAT
    assert not (await pull_group(b, "g1", key=dl.next_key)).metas  # acknowledged
    assert [m.id for m in (await pull_group(a2, "g1")).metas] == [ack.server_id]
    assert not (await pull_group(a1, "g1")).metas  # its own send
    c = await gateway.client(carol, "c1")  # offline until now: UNREAD names the group
    assert await c.unread() == {"g1": 1}
    assert [m.id for m in (await pull_group(c, "g1")).metas] == [ack.server_id]
    async with gateway.services.engine.connect() as conn:
        assert len((await conn.execute(inbox.select())).all()) == 1  # one row, three members
    assert all(f.msync.command != pb.MSync.NOTICE for f in a1.buffer)  # a1 sent it
