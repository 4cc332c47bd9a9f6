"""Two and more Python clients chatting through a real ``kibitz serve``."""

from __future__ import annotations

import pytest

from kibitz import (
    AdminClient,
    ChatMessage,
    Connected,
    ConnectionState,
    MessagesReceived,
    MessageType,
)
from tests.sdk.conftest import WAIT, Clients, Live, fresh

pytestmark = pytest.mark.anyio


async def test_text_round_trip_carries_server_id_time_and_ext(
    live: Live, clients: Clients, pair: dict[str, str]
) -> None:
    alice, _ = await clients.login(live.chat, pair["alice"], "pw")
    bob, bob_rec = await clients.login(live.chat, pair["bob"], "pw")
    assert alice.state is ConnectionState.CONNECTED and alice.current_user == pair["alice"]
    ext = {"mood": "happy", "n": 3, "ratio": 0.5, "flag": True, "obj": {"a": [1, 2]}}
    sent = await alice.chat.send_message(ChatMessage.text(pair["bob"], "hi bob", ext=ext))
    assert sent.msg_id and sent.msg_id.isdigit()
    assert sent.timestamp > 0 and sent.sender == pair["alice"]
    await bob_rec.until(lambda: len(bob_rec.messages) == 1)
    got = bob_rec.messages[0]
    assert (got.msg_id, got.sender, got.to, got.body.text) == (
        sent.msg_id,
        pair["alice"],
        pair["bob"],
        "hi bob",
    )
    assert got.timestamp == sent.timestamp
    assert dict(got.ext) == ext
    reply = await bob.chat.send_message(ChatMessage.text(pair["alice"], "hi alice"))
    assert int(reply.msg_id or 0) > int(sent.msg_id)


async def test_every_message_type_arrives_as_sent(
    live: Live, clients: Clients, pair: dict[str, str]
) -> None:
    alice, _ = await clients.login(live.chat, pair["alice"], "pw")
    _, rec = await clients.login(live.chat, pair["bob"], "pw")
    bob = pair["bob"]
    await alice.chat.send_message(ChatMessage.custom(bob, "gift", {"count": "3"}))
    await alice.chat.send_message(ChatMessage.location(bob, 48.8584, 2.2945, "Eiffel Tower"))
    await alice.chat.send_message(ChatMessage.cmd(bob, "typing", ext={"k": "v"}))
    await rec.until(lambda: len(rec.messages) == 2 and len(rec.commands) == 1)
    custom, location = rec.messages
    assert custom.type is MessageType.CUSTOM
    assert (custom.body.custom_event, dict(custom.body.custom_exts)) == ("gift", {"count": "3"})
    assert location.type is MessageType.LOCATION
    assert (location.body.latitude, location.body.longitude) == (48.8584, 2.2945)
    assert location.body.address == "Eiffel Tower"
    (cmd,) = rec.commands
    assert (cmd.type, cmd.body.action, dict(cmd.ext)) == (MessageType.CMD, "typing", {"k": "v"})


async def test_many_messages_arrive_once_and_in_order(
    live: Live, clients: Clients, pair: dict[str, str]
) -> None:
    alice, _ = await clients.login(live.chat, pair["alice"], "pw")
    _, rec = await clients.login(live.chat, pair["bob"], "pw")
    sent = [
        await alice.chat.send_message(ChatMessage.text(pair["bob"], f"n{i}")) for i in range(60)
    ]
    await rec.until(lambda: len(rec.messages) >= 60)
    assert rec.texts == [f"n{i}" for i in range(60)]
    assert [m.msg_id for m in rec.messages] == [s.msg_id for s in sent]


async def test_three_clients_each_conversation_in_order(
    live: Live, clients: Clients, admin: AdminClient
) -> None:
    names = [fresh("u") for _ in range(3)]
    await admin.register_users([(n, "pw") for n in names])
    logged = [await clients.login(live.chat, n, "pw") for n in names]
    (a, _), (b, _), (_, c_rec) = logged
    for i in range(10):
        await a.chat.send_message(ChatMessage.text(names[2], f"a{i}"))
        await b.chat.send_message(ChatMessage.text(names[2], f"b{i}"))
    await c_rec.until(lambda: len(c_rec.messages) >= 20)
    by_sender = {n: [m.body.text for m in c_rec.messages if m.sender == n] for n in names[:2]}
    assert by_sender == {
        names[0]: [f"a{i}" for i in range(10)],
        names[1]: [f"b{i}" for i in range(10)],
    }
    assert len({m.msg_id for m in c_rec.messages}) == 20


async def test_offline_messages_are_synced_at_login(
    live: Live, clients: Clients, pair: dict[str, str]
) -> None:
    alice, _ = await clients.login(live.chat, pair["alice"], "pw")
    for i in range(25):
        await alice.chat.send_message(ChatMessage.text(pair["bob"], f"off{i}"))
    _, rec = await clients.login(live.chat, pair["bob"], "pw")
    await rec.until(lambda: len(rec.messages) >= 25)
    assert rec.texts == [f"off{i}" for i in range(25)]
    # logging in again brings nothing twice: everything was acknowledged
    bob2, rec2 = await clients.login(live.chat, pair["bob"], "pw")
    await alice.chat.send_message(ChatMessage.text(pair["bob"], "fresh"))
    await rec2.until(lambda: "fresh" in rec2.texts)
    assert rec2.texts == ["fresh"]
    await bob2.logout()


async def test_events_iterator_sees_the_session(
    live: Live, clients: Clients, pair: dict[str, str]
) -> None:
    alice, _ = await clients.login(live.chat, pair["alice"], "pw")
    bob, _ = clients.new(live.chat)
    async with bob.events() as events:
        await bob.login(pair["bob"], password="pw")
        assert await events.get(WAIT) == Connected()
        sent = await alice.chat.send_message(ChatMessage.text(pair["bob"], "via events"))
        event = await events.get(WAIT)
        assert isinstance(event, MessagesReceived)
        assert [m.msg_id for m in event.messages] == [sent.msg_id]
        await bob.logout()
        assert [e async for e in events] == []


async def test_admin_sends_as_a_user(
    live: Live, clients: Clients, admin: AdminClient, pair: dict[str, str]
) -> None:
    _, rec = await clients.login(live.chat, pair["bob"], "pw")
    msg_id = await admin.send_message(pair["alice"], ChatMessage.text(pair["bob"], "from REST"))
    await rec.until(lambda: len(rec.messages) == 1)
    got = rec.messages[0]
    assert (got.msg_id, got.sender, got.body.text) == (msg_id, pair["alice"], "from REST")


async def test_two_devices_of_one_user_both_receive(
    live: Live, clients: Clients, pair: dict[str, str]
) -> None:
    alice, _ = await clients.login(live.chat, pair["alice"], "pw")
    phone, phone_rec = await clients.login(live.chat, pair["bob"], "pw")
    laptop, laptop_rec = await clients.login(live.chat, pair["bob"], "pw")
    assert phone.resource != laptop.resource
    await alice.chat.send_message(ChatMessage.text(pair["bob"], "to both"))
    await phone_rec.until(lambda: phone_rec.texts == ["to both"])
    await laptop_rec.until(lambda: laptop_rec.texts == ["to both"])


async def test_a_message_sent_from_one_device_reaches_the_others(
    live: Live, clients: Clients, pair: dict[str, str]
) -> None:
    phone, phone_rec = await clients.login(live.chat, pair["alice"], "pw")
    _, laptop_rec = await clients.login(live.chat, pair["alice"], "pw")
    _, bob_rec = await clients.login(live.chat, pair["bob"], "pw")
    sent = await phone.chat.send_message(ChatMessage.text(pair["bob"], "synced"))
    await bob_rec.until(lambda: bob_rec.texts == ["synced"])
    await laptop_rec.until(lambda: laptop_rec.texts == ["synced"])
    copy = laptop_rec.messages[0]
    assert (copy.msg_id, copy.sender, copy.to) == (sent.msg_id, pair["alice"], pair["bob"])
    assert phone_rec.texts == []  # never echoed to the sending device
