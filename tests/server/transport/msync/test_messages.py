"""1:1 messages over msync: durable ack, notice → pull → ack, offline delivery, devices."""

from __future__ import annotations

import pytest

from kibitz.protocol._msync import (
    Content,
    ContentKind,
    content_from_pb,
    content_to_pb,
    decode_payload,
    encode_frame,
    ext_from_keyvalues,
    pb,
)

from .client import body_text, text_body
from .conftest import Gateway, GatewayFactory

pytestmark = pytest.mark.anyio


async def test_send_is_acked_with_increasing_server_ids(gateway: Gateway) -> None:
    alice, _ = await gateway.user("alice"), await gateway.user("bob")
    a = await gateway.client(alice)
    ids = []
    for i in range(5):
        ack = await a.send_text("bob", f"hi {i}")
        assert ack.status.error_code == pb.Status.OK
        assert ack.server_id > 0 and ack.timestamp > 0
        ids.append(ack.server_id)
    assert ids == sorted(ids) and len(set(ids)) == 5


async def test_online_receiver_gets_notice_then_pulls(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    a = await gateway.client(alice, "a1")
    b = await gateway.client(bob, "b1")
    ack = await a.send_text("bob", "hello", mood="good", n=3)
    notice = await b.notice()
    assert notice.queue.name == "alice" and not notice.queue.client_resource
    metas = await b.pull("alice")
    assert [m.id for m in metas] == [ack.server_id]
    meta = metas[0]
    assert meta.ns == pb.Meta.CHAT and meta.timestamp == ack.timestamp
    assert (meta.from_jid.name, meta.from_jid.client_resource) == ("alice", "a1")
    assert meta.to_jid.name == "bob" and not meta.to_jid.client_resource
    body = decode_payload(pb.MessageBody, meta.payload)
    assert (body.from_jid.name, body.to_jid.name) == ("alice", "bob")
    assert body.contents[0].text == "hello"
    assert ext_from_keyvalues(body.ext) == {"mood": "good", "n": 3}
    assert await b.unread() == {}


@pytest.mark.parametrize(
    "content",
    [
        Content(kind=ContentKind.CUSTOM, custom_event="gift", custom_exts={"k": "v"}),
        Content(kind=ContentKind.CMD, action="typing"),
        Content(kind=ContentKind.LOCATION, latitude=48.85, longitude=2.35, address="Paris"),
    ],
)
async def test_other_contents_travel_unchanged(gateway: Gateway, content: Content) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    a = await gateway.client(alice)
    body = pb.MessageBody(type=pb.MessageBody.CHAT, to_jid=pb.JID(name="bob"))
    body.contents.append(content_to_pb(content))
    assert (await a.send_body("bob", body)).status.error_code == pb.Status.OK
    b = await gateway.client(bob)
    (meta,) = await b.pull("alice")
    got = decode_payload(pb.MessageBody, meta.payload).contents[0]
    assert content_from_pb(got) == content


async def test_offline_messages_in_unread_then_pulled_in_order(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    carol = await gateway.user("carol")
    a = await gateway.client(alice)
    c = await gateway.client(carol)
    sent = [(await a.send_text("bob", f"m{i}")).server_id for i in range(7)]
    await c.send_text("bob", "from carol")
    b = await gateway.client(bob)
    assert await b.unread() == {"alice": 7, "carol": 1}
    metas = await b.pull("alice")
    assert [m.id for m in metas] == sent
    assert [body_text(m) for m in metas] == [f"m{i}" for i in range(7)]
    assert await b.unread() == {"carol": 1}


async def test_small_batches_chain_by_next_key(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(sync_batch_size=2)
    alice, bob = await gw.user("alice"), await gw.user("bob")
    a = await gw.client(alice)
    sent = [(await a.send_text("bob", f"m{i}")).server_id for i in range(5)]
    b = await gw.client(bob)
    first = await b.pull_once("alice")
    assert [m.id for m in first.metas] == sent[:2] and not first.is_last
    assert [m.id for m in (await b.pull("alice"))] == sent  # unacked batch comes again


async def test_exactly_once_across_reconnects(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    a = await gateway.client(alice)
    first = [(await a.send_text("bob", f"m{i}")).server_id for i in range(3)]
    b = await gateway.client(bob, "b1")
    assert [m.id for m in await b.pull("alice")] == first
    await b.close()
    second = [(await a.send_text("bob", f"n{i}")).server_id for i in range(2)]
    b = await gateway.client(bob, "b1")
    assert await b.unread() == {"alice": 2}
    assert [m.id for m in await b.pull("alice")] == second
    await b.close()
    b = await gateway.client(bob, "b1")
    assert await b.unread() == {}


async def test_partial_ack_resends_only_the_rest(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(sync_batch_size=2)
    alice, bob = await gw.user("alice"), await gw.user("bob")
    a = await gw.client(alice)
    sent = [(await a.send_text("bob", f"m{i}")).server_id for i in range(4)]
    b = await gw.client(bob, "b1")
    batch = await b.pull_once("alice")
    await b.pull_once("alice", batch.next_key)  # acks the first two, gets the next two
    await b.close()  # …which it never acknowledges
    b = await gw.client(bob, "b1")
    assert await b.unread() == {"alice": 2}
    assert [m.id for m in await b.pull("alice")] == sent[2:]


async def test_fan_out_to_every_device_but_the_sender(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    a1 = await gateway.client(alice, "a1")
    a2 = await gateway.client(alice, "a2")
    b1 = await gateway.client(bob, "b1")
    b2 = await gateway.client(bob, "b2")
    ack = await a1.send_text("bob", "to all of you")
    for b in (b1, b2):
        assert (await b.notice()).queue.name == "alice"
        assert [m.id for m in await b.pull("alice")] == [ack.server_id]
    own = await a2.notice()
    assert (own.queue.name, own.queue.client_resource) == ("alice", "a1")
    (copy,) = await a2.pull("alice")
    assert copy.id == ack.server_id
    body = decode_payload(pb.MessageBody, copy.payload)
    assert (body.from_jid.name, body.to_jid.name) == ("alice", "bob")
    assert await a1.unread() == {}
    assert await a1.pull("alice") == []  # the sending device never gets its own message
    assert await a2.unread() == {}


async def test_new_device_skips_what_another_device_acked(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    a = await gateway.client(alice)
    old = (await a.send_text("bob", "seen on b1")).server_id
    b1 = await gateway.client(bob, "b1")
    assert [m.id for m in await b1.pull("alice")] == [old]
    await b1.close()
    new = (await a.send_text("bob", "nobody saw this")).server_id
    b9 = await gateway.client(bob, "b9")  # a brand-new resource
    assert await b9.unread() == {"alice": 1}
    assert [m.id for m in await b9.pull("alice")] == [new]
    b1 = await gateway.client(bob, "b1")  # b1 existed when `new` was sent: gets it once
    assert [m.id for m in await b1.pull("alice")] == [new]


async def test_first_login_gets_everything_nobody_acked(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    a = await gateway.client(alice)
    sent = [(await a.send_text("bob", f"m{i}")).server_id for i in range(3)]
    b = await gateway.client(bob, "fresh")
    assert [m.id for m in await b.pull("alice")] == sent


async def test_note_to_self_reaches_the_other_devices(gateway: Gateway) -> None:
    alice = await gateway.user("alice")
    a1 = await gateway.client(alice, "a1")
    a2 = await gateway.client(alice, "a2")
    ack = await a1.send_text("alice", "remember the milk")
    assert ack.status.error_code == pb.Status.OK
    assert [m.id for m in await a2.pull("alice")] == [ack.server_id]
    assert await a1.pull("alice") == []


async def test_unknown_recipient_is_refused_as_the_sdk_expects(gateway: Gateway) -> None:
    a = await gateway.client(await gateway.user("alice"))
    ack = await a.send_text("nobody", "hello?")
    assert ack.status.error_code == pb.Status.FAIL
    assert ack.status.reason == "username nobody doesn't exist!"
    ack = await a.send_text("Not A Name", "hello?")
    assert ack.status.reason == "username Not A Name doesn't exist!"


async def test_sender_is_the_session_not_meta_from(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    a = await gateway.client(alice)
    body = text_body("bob", "forged?")
    body.from_jid.name = "mallory"
    meta = pb.Meta(
        id=42, from_jid=pb.JID(name="mallory"), to_jid=pb.JID(name="bob"), ns=pb.Meta.CHAT
    )
    meta.payload = body.SerializeToString()
    assert (await a.send_meta(meta)).status.error_code == pb.Status.OK
    b = await gateway.client(bob)
    assert await b.unread() == {"alice": 1}
    (got,) = await b.pull("alice")
    assert got.from_jid.name == "alice"
    assert decode_payload(pb.MessageBody, got.payload).from_jid.name == "alice"


@pytest.mark.parametrize(
    ("body", "code", "reason"),
    [
        (pb.MessageBody(type=pb.MessageBody.CHAT), pb.Status.FAIL, None),  # no content
        (text_body("bob", "x" * 6000), pb.Status.PERMISSION_DENIED, "Sorry, data is too large"),
        (pb.MessageBody(type=pb.MessageBody.RECALL), pb.Status.FAIL, "message recall disabled"),
        # a GROUPCHAT to "bob": no group has such an id
        (
            pb.MessageBody(type=pb.MessageBody.GROUPCHAT),
            pb.Status.FAIL,
            "group ID illegal, please check it",
        ),
    ],
)
async def test_refused_sends_use_reasons_the_sdk_maps(
    gateway: Gateway, body: pb.MessageBody, code: int, reason: str | None
) -> None:
    await gateway.user("bob")
    a = await gateway.client(await gateway.user("alice"))
    ack = await a.send_body("bob", body)
    assert ack.status.error_code == code
    assert ack.status.error_code != pb.Status.PERMISSION_DENIED or reason
    if reason:
        assert ack.status.reason == reason


async def test_statistics_and_acks(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    a = await gateway.client(alice)
    stat = pb.Meta(id=1, ns=pb.Meta.STATISTIC, payload=pb.StatisticsBody().SerializeToString())
    await a.send_raw(encode_sync(stat))
    ack = await a.send_text("bob", "hello")
    assert a.buffer == []  # the statistic got no reply
    b = await gateway.client(bob)
    delivered = pb.MessageBody(type=pb.MessageBody.DELIVER_ACK, ack_message_id=ack.server_id)
    assert (await b.send_body("alice", delivered)).status.error_code == pb.Status.OK
    (meta,) = await a.pull("bob")
    assert decode_payload(pb.MessageBody, meta.payload).ack_message_id == ack.server_id


async def test_online_only_skips_offline_recipients(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    a = await gateway.client(alice)
    ack = await a.send_body("bob", text_body("bob", "now or never"), online_only=True)
    assert ack.status.error_code == pb.Status.OK
    b = await gateway.client(bob)
    assert await b.unread() == {}
    ack = await a.send_body("bob", text_body("bob", "you are here"), online_only=True)
    await b.notice()
    assert [m.id for m in await b.pull("alice")] == [ack.server_id]


def encode_sync(meta: pb.Meta) -> bytes:
    return encode_frame(pb.MSync.SYNC, pb.CommSyncUL(meta=meta))
