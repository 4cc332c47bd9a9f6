"""Group read receipts as members feel them: with the app's switch on, a member's READ_ACK
for a group message is counted once and its sender (who asked, ``allowGroupAck``) gets a
READ_ACK carrying the count in ``ext`` — only the sender, never the group; the readers page
over REST; the refusals: switched off (505), past 3 days (MESSAGE_EXPIRED, 506), a group
larger than the app's limit, a non-member (602), a message of another group."""

from __future__ import annotations

from typing import Any

import pytest

from kibitz.protocol._msync import GROUP_DOMAIN, jid, pb
from kibitz.server.domain.group_events import EVENT_QUEUE

from ..rest.support import FakeClock
from .conftest import Gateway, GatewayFactory
from .test_conversations import pull_group, send_to, typed
from .test_group_moderation import group, rest, status

pytestmark = pytest.mark.anyio


def read_ack(group_id: str, message_id: int, content: str = "") -> pb.MessageBody:
    body = pb.MessageBody(type=pb.MessageBody.READ_ACK, ack_message_id=message_id)
    body.to_jid.name = group_id
    body.to_jid.domain = GROUP_DOMAIN
    body.msg_config.allow_group_ack = True
    if content:
        body.ack_content = content
    return body


def asking(group_id: str) -> pb.MessageBody:
    body = typed(pb.MessageBody.GROUPCHAT, group_id)
    body.msg_config.allow_group_ack = True
    return body


def receipts(metas: list[pb.Meta]) -> list[pb.MessageBody]:
    out = []
    for meta in metas:
        if meta.ns == pb.Meta.CHAT:
            body = pb.MessageBody.FromString(meta.payload)
            if body.type == pb.MessageBody.READ_ACK:
                out.append(body)
    return out


async def switch_on(gateway: Gateway, **more: Any) -> None:
    await rest(gateway, "PUT", "/settings", json={"group_read_receipts": True, **more})


async def test_readers_are_counted_once_and_only_the_sender_hears(gateway: Gateway) -> None:
    await switch_on(gateway)
    alice, bob, carol = [await gateway.user(n) for n in ("alice", "bob", "carol")]
    gid = await group(gateway, alice, "bob", "carol")
    a = await gateway.client(alice, "a1")
    b = await gateway.client(bob, "b1")
    c = await gateway.client(carol, "c1")
    sent = await send_to(a, gid, asking(gid))
    msg_id = sent.server_id
    assert status(await send_to(b, gid, read_ack(gid, msg_id, "seen"))) == (pb.Status.OK, "")
    assert status(await send_to(b, gid, read_ack(gid, msg_id))) == (pb.Status.OK, "")  # again
    assert status(await send_to(c, gid, read_ack(gid, msg_id))) == (pb.Status.OK, "")
    got = receipts(await a.pull(EVENT_QUEUE))
    assert [(r.ack_message_id, r.from_jid.name, r.ext[0].string_value) for r in got] == [
        (msg_id, "bob", "1"),
        (msg_id, "carol", "2"),
    ]
    assert got[0].ack_content == "seen" and got[0].to_jid.name == gid
    # The group's queue holds the message alone; no one else hears of the receipts.
    group_metas = (await pull_group(b, gid)).metas
    assert [m.id for m in group_metas] == [msg_id]
    assert receipts(await b.pull(EVENT_QUEUE)) == []
    page = await rest(gateway, "GET", f"/chatgroups/{gid}/acks/{msg_id}", alice)
    data = page["data"]
    assert (data["total"], data["userlist"], data["is_last"]) == (2, ["bob", "carol"], True)
    first = await rest(gateway, "GET", f"/chatgroups/{gid}/acks/{msg_id}?limit=1")
    assert first["data"]["userlist"] == ["bob"] and first["data"]["next_key"] == "bob"
    rest_page = await rest(gateway, "GET", f"/chatgroups/{gid}/acks/{msg_id}?limit=1&key=bob")
    assert rest_page["data"]["userlist"] == ["carol"] and rest_page["data"]["is_last"]


async def test_a_message_that_did_not_ask_is_counted_but_not_told(gateway: Gateway) -> None:
    await switch_on(gateway)
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    gid = await group(gateway, alice, "bob")
    a, b = await gateway.client(alice, "a1"), await gateway.client(bob, "b1")
    msg_id = (await send_to(a, gid, typed(pb.MessageBody.GROUPCHAT, gid))).server_id
    assert status(await send_to(b, gid, read_ack(gid, msg_id))) == (pb.Status.OK, "")
    assert receipts(await a.pull(EVENT_QUEUE)) == []
    page = await rest(gateway, "GET", f"/chatgroups/{gid}/acks/{msg_id}", alice)
    assert page["data"]["total"] == 1


async def test_the_refusals(gateway_factory: GatewayFactory) -> None:
    clock = FakeClock()
    gateway = await gateway_factory(clock=clock)
    alice, bob, dave = [await gateway.user(n) for n in ("alice", "bob", "dave")]
    gid = await group(gateway, alice, "bob")
    other = await group(gateway, alice, "bob")
    a, b = await gateway.client(alice, "a1"), await gateway.client(bob, "b1")
    d = await gateway.client(dave, "d1")
    msg_id = (await send_to(a, gid, asking(gid))).server_id
    off = status(await send_to(b, gid, read_ack(gid, msg_id)))
    assert off == (pb.Status.FAIL, "group read ack disabled")
    await switch_on(gateway, group_read_receipt_max_users=2)
    assert status(await send_to(d, gid, read_ack(gid, msg_id))) == (
        pb.Status.FAIL,
        "not in group or chatroom",
    )
    wrong_group = status(await send_to(b, other, read_ack(other, msg_id)))
    assert wrong_group == (pb.Status.FAIL, "message does not exist in this group")
    await rest(gateway, "POST", f"/chatgroups/{gid}/users/dave")  # three members now
    too_big = status(await send_to(b, gid, read_ack(gid, msg_id)))
    assert too_big[0] == pb.Status.FAIL and too_big[1].startswith("group read ack disabled")
    await rest(gateway, "DELETE", f"/chatgroups/{gid}/users/dave")
    clock.advance(3 * 86_400 + 1)
    expired = status(await send_to(b, gid, read_ack(gid, msg_id)))
    assert expired == (pb.Status.FAIL, "message expired")
    outsider = await rest(gateway, "GET", f"/chatgroups/{gid}/acks/{msg_id}", dave, status=403)
    assert outsider["error"] == "forbidden_op"
    bad = await rest(gateway, "GET", f"/chatgroups/{gid}/acks/12x", status=400)
    assert bad["error"] == "illegal_argument"


async def test_the_receipt_reaches_an_offline_sender_at_login(gateway: Gateway) -> None:
    await switch_on(gateway)
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    gid = await group(gateway, alice, "bob")
    a = await gateway.client(alice, "a1")
    msg_id = (await send_to(a, gid, asking(gid))).server_id
    await a.close()
    b = await gateway.client(bob, "b1")
    assert status(await send_to(b, gid, read_ack(gid, msg_id))) == (pb.Status.OK, "")
    again = await gateway.client(alice, "a1")
    assert EVENT_QUEUE in await again.unread()  # the group's creation and the receipt
    (receipt,) = receipts(await again.pull(EVENT_QUEUE))
    assert receipt.from_jid == jid(gateway.app_key, "bob")
    assert receipt.ack_message_id == msg_id and receipt.ext[0].string_value == "1"
