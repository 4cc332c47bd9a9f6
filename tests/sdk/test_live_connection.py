"""The connection's life against a real server: restarts (reconnect + offline sync, no loss,
no duplicates), token expiry events, renew_token, logout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from kibitz import AdminClient, ChatClient, ChatError, ChatMessage, ConnectionState, ErrorCode
from tests.conftest import LiveServer
from tests.sdk.conftest import Clients, Live, LiveApp, Recorder, fresh

pytestmark = pytest.mark.anyio
FAST = {"reconnect_base_delay": 0.05, "reconnect_max_delay": 0.5}


class Gate:
    """An injected ``sleep``: short waits (backoff) really sleep; long ones (token timers)
    wait until the test opens the gate, so nothing depends on the wall clock."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self.opened = asyncio.Event()
        self.waiting = asyncio.Event()
        self.long_waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        if seconds < self.threshold:
            await asyncio.sleep(seconds)
            return
        self.long_waits.append(seconds)
        self.waiting.set()
        await self.opened.wait()


@pytest.fixture
def own_server(live_server_factory: Callable[..., LiveServer]) -> LiveApp:
    """A server of its own, for tests that restart it."""
    server = live_server_factory()
    app = LiveApp(server, server.create_app("acme", "chat"))
    server.start()
    return app


async def test_restart_reconnects_and_syncs_what_was_missed(own_server: LiveApp) -> None:
    async with own_server.admin() as admin:
        alice_name, bob_name = fresh("alice"), fresh("bob")
        await admin.register_users([(alice_name, "pw"), (bob_name, "pw")])
    alice = ChatClient(own_server.options(**FAST))
    released, never = asyncio.Event(), asyncio.Event()

    async def held(seconds: float) -> None:
        """Bob's backoff waits until the test releases it; his token timers never fire."""
        await (released if seconds < 60 else never).wait()

    bob = ChatClient(own_server.options(), sleep=held)
    a_rec, b_rec = Recorder(), Recorder()
    alice.add_connection_listener(a_rec)
    bob.add_connection_listener(b_rec)
    bob.chat.add_message_listener(b_rec)
    await alice.login(alice_name, password="pw")
    await bob.login(bob_name, password="pw")
    before = await alice.chat.send_message(ChatMessage.text(bob_name, "before"))
    await b_rec.until(lambda: b_rec.texts == ["before"])

    await asyncio.to_thread(own_server.server.restart)
    await a_rec.until(lambda: a_rec.calls.count("connected") == 2)
    await b_rec.until(lambda: "disconnected:NETWORK_ERROR" in b_rec.calls)
    assert bob.state is ConnectionState.RECONNECTING
    sent = [await alice.chat.send_message(ChatMessage.text(bob_name, f"m{i}")) for i in range(5)]
    released.set()  # bob reconnects now and pulls what he missed
    await b_rec.until(lambda: len(b_rec.messages) >= 6)
    assert b_rec.texts == ["before"] + [f"m{i}" for i in range(5)]
    assert [m.msg_id for m in b_rec.messages] == [before.msg_id] + [s.msg_id for s in sent]
    assert b_rec.calls == ["connected", "disconnected:NETWORK_ERROR", "connected"]
    await alice.logout()
    await bob.logout()


async def test_send_during_reconnect_waits_for_the_connection(own_server: LiveApp) -> None:
    async with own_server.admin() as admin:
        alice_name, bob_name = fresh("alice"), fresh("bob")
        await admin.register_users([(alice_name, "pw"), (bob_name, "pw")])
    alice, rec = ChatClient(own_server.options(**FAST)), Recorder()
    alice.add_connection_listener(rec)
    await alice.login(alice_name, password="pw")
    own_server.server.stop()
    await rec.until(lambda: "disconnected:NETWORK_ERROR" in rec.calls)
    sending = asyncio.create_task(alice.chat.send_message(ChatMessage.text(bob_name, "queued")))
    await asyncio.to_thread(own_server.server.start)
    sent = await asyncio.wait_for(sending, 30)
    assert sent.msg_id
    await alice.logout()


async def test_without_auto_reconnect_a_drop_ends_the_session(own_server: LiveApp) -> None:
    async with own_server.admin() as admin:
        name = fresh("alice")
        await admin.register_user(name, "pw")
    client, rec = ChatClient(own_server.options(auto_reconnect=False)), Recorder()
    client.add_connection_listener(rec)
    await client.login(name, password="pw")
    await asyncio.to_thread(own_server.server.stop)
    await rec.until(lambda: any(c.startswith("logged_out") for c in rec.calls))
    assert rec.calls == ["connected", "disconnected:NETWORK_ERROR", "logged_out:NETWORK_ERROR"]
    assert client.state is ConnectionState.LOGGED_OUT


async def test_token_expiry_events_come_from_the_login_reply(
    live: Live, admin: AdminClient, pair: dict[str, str]
) -> None:
    user_uuid = (await admin.get_user(pair["alice"]))["uuid"]
    issued = int(time.time())
    token = live.chat.user_token_007(user_uuid, ttl_s=600)
    gate = Gate()
    client, rec = ChatClient(live.chat.options(), sleep=gate), Recorder()
    client.add_connection_listener(rec)
    await client.login(pair["alice"], token=token)
    expires_at = client.token_expires_at_ms
    assert expires_at is not None and abs(expires_at - (issued + 600) * 1000) <= 2000
    await asyncio.wait_for(gate.waiting.wait(), 10)
    assert 290 <= gate.long_waits[0] <= 300  # half of the remaining ~600 s
    gate.opened.set()
    await rec.until(lambda: "token_expired" in rec.calls)
    assert rec.calls == ["connected", "token_will_expire", "token_expired"]
    assert client.state is ConnectionState.LOGGED_OUT


async def test_renew_token_replaces_the_expiry_and_keeps_the_connection(
    live: Live, clients: Clients, admin: AdminClient, pair: dict[str, str]
) -> None:
    user_uuid = (await admin.get_user(pair["alice"]))["uuid"]
    client = ChatClient(live.chat.options(), sleep=Gate())
    clients.made.append(client)
    await client.login(pair["alice"], token=live.chat.user_token_007(user_uuid, ttl_s=60))
    first = client.token_expires_at_ms
    assert first is not None
    await client.renew_token(live.chat.user_token_007(user_uuid, ttl_s=7200))
    renewed = client.token_expires_at_ms
    assert renewed is not None and renewed - first >= 7000 * 1000
    assert client.state is ConnectionState.CONNECTED
    for bad, code in [
        ("garbage", ErrorCode.INVALID_TOKEN),
        (await admin.user_token(pair["bob"]), ErrorCode.INVALID_TOKEN),
        (
            live.chat.user_token_007(user_uuid, ttl_s=1, issued_ago_s=60),
            ErrorCode.USER_AUTHENTICATION_FAILED,
        ),
    ]:
        with pytest.raises(ChatError) as info:
            await client.renew_token(bad)
        assert info.value.code is code, info.value
    assert client.token_expires_at_ms == renewed
    sent = await client.chat.send_message(ChatMessage.text(pair["bob"], "still here"))
    assert sent.msg_id


async def test_renewed_token_is_used_to_reconnect(own_server: LiveApp) -> None:
    async with own_server.admin() as admin:
        name = fresh("alice")
        await admin.register_user(name, "pw")
        user_uuid = (await admin.get_user(name))["uuid"]
    client, rec = ChatClient(own_server.options(**FAST), sleep=Gate()), Recorder()
    client.add_connection_listener(rec)
    await client.login(name, token=own_server.user_token_007(user_uuid, ttl_s=600))
    await client.renew_token(own_server.user_token_007(user_uuid, ttl_s=7200))
    renewed = client.token_expires_at_ms
    await asyncio.to_thread(own_server.server.restart)
    await rec.until(lambda: rec.calls.count("connected") == 2, within=30)
    # the login reply of the reconnect reports the expiry of the token it was given:
    # the renewed one (the first token would have brought the old expiry back)
    assert client.token_expires_at_ms == renewed
    await client.logout()


async def test_logout_stops_everything_and_allows_a_new_login(
    live: Live, admin: AdminClient, pair: dict[str, str]
) -> None:
    client = ChatClient(live.chat.options())
    async with client:
        await client.login(pair["alice"], password="pw")
        assert await admin.is_online(pair["alice"])
    assert client.state is ConnectionState.LOGGED_OUT
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("kibitz-")]
    await client.logout()  # idempotent
    await client.login(pair["bob"], password="pw")
    assert client.current_user == pair["bob"]
    await client.logout()
