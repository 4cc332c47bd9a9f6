"""Connection mechanics against a scripted msync server: exactly-once delivery across
reconnects, pull/ack edge cases, heartbeats, timeouts, kicks and token timers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from kibitz import (
    ChatClient,
    ChatError,
    ChatMessage,
    ChatOptions,
    Connected,
    ConnectionState,
    Disconnected,
    ErrorCode,
    LoggedOut,
    MessagesReceived,
    TokenExpired,
    TokenWillExpire,
)
from kibitz.protocol._msync import pb
from kibitz.sdk._client import backoff_delay
from kibitz.sdk._options import check_transition
from tests.sdk.fake_msync import APP_KEY, FakeMsync, fake_msync

pytestmark = pytest.mark.anyio
WAIT = 10.0


class Recorder:
    """A message + connection listener that records everything it is told."""

    def __init__(self) -> None:
        self.messages: list[ChatMessage] = []
        self.calls: list[str] = []
        self.changed = asyncio.Event()

    def on_message_received(self, messages: list[ChatMessage]) -> None:
        self.messages.extend(messages)
        self.changed.set()

    def on_connected(self) -> None:
        self.calls.append("connected")
        self.changed.set()

    async def on_disconnected(self, code: ErrorCode) -> None:  # async listeners work too
        self.calls.append(f"disconnected:{code.name}")
        self.changed.set()

    def on_logged_out(self, code: ErrorCode) -> None:
        self.calls.append(f"logged_out:{code.name}")
        self.changed.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


def opts(url: str, **kw: object) -> ChatOptions:
    base: dict[str, object] = {"reconnect_base_delay": 0.01, "reconnect_max_delay": 0.05}
    base.update(kw)
    return ChatOptions(APP_KEY, "http://127.0.0.1:9", url, **base)  # type: ignore[arg-type]


@pytest.fixture
async def fake() -> AsyncIterator[FakeMsync]:
    async with fake_msync(tokens={"t-alice": "alice", "t-bob": "bob"}) as server:
        yield server


async def logged_in(fake: FakeMsync, user: str, **kw: object) -> tuple[ChatClient, Recorder]:
    client = ChatClient(opts(fake.url, **kw))
    rec = Recorder()
    client.chat.add_message_listener(rec)
    client.add_connection_listener(rec)
    await client.login(user, token=f"t-{user}")
    return client, rec


async def test_send_and_receive_once_in_order(fake: FakeMsync) -> None:
    alice, _ = await logged_in(fake, "alice")
    bob, rec = await logged_in(fake, "bob")
    sent = [await alice.chat.send_message(ChatMessage.text("bob", f"m{i}")) for i in range(5)]
    assert all(s.msg_id and s.timestamp and s.sender == "alice" for s in sent)
    await rec.until(lambda: len(rec.messages) >= 5)
    assert [m.body.text for m in rec.messages] == [f"m{i}" for i in range(5)]
    assert [m.msg_id for m in rec.messages] == [s.msg_id for s in sent]
    await alice.logout()
    await bob.logout()


async def test_offline_messages_arrive_at_login_in_order(fake: FakeMsync) -> None:
    for i in range(7):
        fake.store("alice", "bob", f"o{i}")
    fake.batch_size = 3  # several batches, each acknowledged with next_key
    bob, rec = await logged_in(fake, "bob")
    await rec.until(lambda: len(rec.messages) >= 7)
    assert [m.body.text for m in rec.messages] == [f"o{i}" for i in range(7)]
    await fake.acked("bob", "alice")  # everything acknowledged
    await bob.logout()


async def test_redelivery_after_a_drop_reaches_listeners_once(fake: FakeMsync) -> None:
    bob, rec = await logged_in(fake, "bob")
    await rec.until(lambda: rec.calls == ["connected"])
    fake.drop_after_batch = True  # the batch arrives, the socket closes before the ack
    for i in range(3):
        fake.store("alice", "bob", f"d{i}")
    await fake.notify("bob", "alice")
    await rec.until(lambda: rec.calls.count("connected") == 2)  # reconnected by itself
    fake.store("alice", "bob", "after")
    await fake.notify("bob", "alice")
    await rec.until(lambda: len(rec.messages) >= 4)
    assert [m.body.text for m in rec.messages] == ["d0", "d1", "d2", "after"]
    assert rec.calls[:3] == ["connected", "disconnected:NETWORK_ERROR", "connected"]
    await fake.acked("bob", "alice")
    await bob.logout()


async def test_a_repeated_next_key_abandons_the_queue(fake: FakeMsync) -> None:
    fake.repeat_next_key = True
    fake.store("alice", "bob", "x")
    bob, rec = await logged_in(fake, "bob")
    await rec.until(lambda: len(rec.messages) == 1)
    pulls = [c for u, c in fake.frames if u == "bob" and c == pb.MSync.SYNC]
    # the pull, the ack with next_key, and no third pull for the repeated key
    fake.repeat_next_key = False
    fake.store("alice", "bob", "y")
    await fake.notify("bob", "alice")
    await rec.until(lambda: len(rec.messages) == 2)
    assert [m.body.text for m in rec.messages] == ["x", "y"]
    assert len(pulls) <= 3  # statistics + pull + one ack
    await bob.logout()


async def test_no_ack_is_server_timeout(fake: FakeMsync) -> None:
    fake.ack_sends = False
    alice, _ = await logged_in(fake, "alice", request_timeout=0.3)
    with pytest.raises(ChatError) as info:
        await alice.chat.send_message(ChatMessage.text("bob", "hello?"))
    assert info.value.code is ErrorCode.SERVER_TIMEOUT
    await alice.logout()


async def test_a_drop_before_the_ack_is_network_error(fake: FakeMsync) -> None:
    fake.ack_sends = False
    alice, _ = await logged_in(fake, "alice")
    sending = asyncio.create_task(alice.chat.send_message(ChatMessage.text("bob", "hi")))
    async with asyncio.timeout(WAIT):
        await fake.sent.wait()
    await fake.drop_all()
    with pytest.raises(ChatError) as info:
        await sending
    assert info.value.code is ErrorCode.NETWORK_ERROR
    await alice.logout()


async def test_an_unknown_recipient_is_user_not_found(fake: FakeMsync) -> None:
    alice, _ = await logged_in(fake, "alice")
    with pytest.raises(ChatError) as info:
        await alice.chat.send_message(ChatMessage.text("nobody", "hi"))
    assert info.value.code is ErrorCode.USER_NOT_FOUND
    await alice.logout()


async def test_a_silent_server_is_detected_by_the_heartbeat(fake: FakeMsync) -> None:
    bob, rec = await logged_in(fake, "bob", heartbeat_interval=0.1, request_timeout=0.2)
    await rec.until(lambda: "connected" in rec.calls)
    fake.answer_unread = False
    await rec.until(lambda: "disconnected:NETWORK_ERROR" in rec.calls)
    fake.answer_unread = True
    await rec.until(lambda: rec.calls.count("connected") >= 2)
    assert bob.state is ConnectionState.CONNECTED
    await bob.logout()


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        (pb.StatisticsBody.USER_REMOVED, ErrorCode.USER_REMOVED),
        (pb.StatisticsBody.USER_LOGIN_ANOTHER_DEVICE, ErrorCode.USER_LOGIN_ANOTHER_DEVICE),
        (
            pb.StatisticsBody.USER_KICKED_BY_CHANGE_PASSWORD,
            ErrorCode.USER_KICKED_BY_CHANGE_PASSWORD,
        ),
        (pb.StatisticsBody.USER_KICKED_BY_OTHER_DEVICE, ErrorCode.USER_KICKED_BY_OTHER_DEVICE),
    ],
)
async def test_a_kick_ends_the_session_without_reconnecting(
    fake: FakeMsync, operation: int, code: ErrorCode
) -> None:
    bob, rec = await logged_in(fake, "bob")
    events = bob.events()
    await fake.kick("bob", operation)
    await rec.until(lambda: f"logged_out:{code.name}" in rec.calls)
    assert bob.state is ConnectionState.LOGGED_OUT
    assert fake.logins == 1
    seen = [e async for e in events]
    assert seen[-1] == LoggedOut(code)
    assert not any(isinstance(e, Disconnected) for e in seen)


async def test_token_timers_fire_at_half_life_then_end_the_session(fake: FakeMsync) -> None:
    now = 1_800_000_000_000
    fake.expires_at_ms = now + 10_000
    slept: list[float] = []
    gate = asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await gate.wait()

    bob = ChatClient(opts(fake.url), sleep=sleep, now_ms=lambda: now)
    async with bob.events() as events:
        await bob.login("bob", token="t-bob")
        assert bob.token_expires_at_ms == now + 10_000
        assert await events.get(WAIT) == Connected()
        gate.set()
        assert await events.get(WAIT) == TokenWillExpire()
        assert await events.get(WAIT) == TokenExpired()
        with pytest.raises(StopAsyncIteration):
            await events.get(WAIT)
    assert slept == [5.0, 5.0]
    assert bob.state is ConnectionState.LOGGED_OUT


async def test_reconnecting_gives_up_after_max_attempts(fake: FakeMsync) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    client = ChatClient(
        opts(fake.url, max_reconnect_attempts=3, reconnect_base_delay=1.0, reconnect_max_delay=3),
        sleep=sleep,
        random=lambda: 1.0,
    )
    rec = Recorder()
    client.add_connection_listener(rec)
    await client.login("bob", token="t-bob")
    assert fake.server is not None
    fake.server.close()  # no more listening socket: every attempt is refused
    await fake.drop_all()
    await rec.until(lambda: any(c.startswith("logged_out") for c in rec.calls))
    assert rec.calls[-1] == "logged_out:SERVER_NOT_REACHABLE"
    assert slept == [1.0, 2.0, 3.0]


async def test_a_refused_reconnect_ends_the_session(fake: FakeMsync) -> None:
    bob, rec = await logged_in(fake, "bob")
    fake.login_status = pb.Status(error_code=pb.Status.FAIL, reason="Sorry, token expired")
    await fake.drop_all()
    await rec.until(lambda: any(c.startswith("logged_out") for c in rec.calls))
    assert rec.calls[-1] == "logged_out:USER_AUTHENTICATION_FAILED"
    assert bob.state is ConnectionState.LOGGED_OUT


async def test_listener_failures_do_not_stop_delivery(fake: FakeMsync) -> None:
    class Broken:
        def on_message_received(self, messages: list[ChatMessage]) -> None:
            raise RuntimeError("listener bug")

    fake.store("alice", "bob", "still delivered")
    bob = ChatClient(opts(fake.url))
    rec = Recorder()
    bob.chat.add_message_listener(Broken())
    bob.chat.add_message_listener(object())  # no methods at all: nothing is called
    bob.chat.add_message_listener(rec)
    await bob.login("bob", token="t-bob")
    await rec.until(lambda: len(rec.messages) == 1)
    await bob.logout()


async def test_events_stream_ends_at_logout(fake: FakeMsync) -> None:
    fake.store("alice", "bob", "e1")
    bob = ChatClient(opts(fake.url))
    events = bob.events()
    await bob.login("bob", token="t-bob")
    assert await events.get(WAIT) == Connected()
    got = await events.get(WAIT)
    assert isinstance(got, MessagesReceived) and got.messages[0].body.text == "e1"
    await bob.logout()
    assert [e async for e in events] == []


# -- no server at all ----------------------------------------------------------------------


async def test_a_closed_port_is_server_not_reachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        client = ChatClient(opts(f"ws://127.0.0.1:{port}/websocket"))
        with pytest.raises(ChatError) as info:
            await client.login("bob", token="t-bob")
    assert info.value.code is ErrorCode.SERVER_NOT_REACHABLE
    assert client.state is ConnectionState.LOGGED_OUT


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # accept, read, never answer


async def test_a_server_that_never_answers_is_server_timeout() -> None:
    server = await asyncio.start_server(_silent, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        client = ChatClient(opts(f"ws://127.0.0.1:{port}/websocket", connect_timeout=0.3))
        with pytest.raises(ChatError) as info:
            await client.login("bob", token="t-bob")
        assert info.value.code is ErrorCode.SERVER_TIMEOUT
        rest = ChatClient(
            ChatOptions(
                APP_KEY,
                f"http://127.0.0.1:{port}",
                "ws://127.0.0.1:9/websocket",
                request_timeout=0.3,
            )
        )
        with pytest.raises(ChatError) as info:
            await rest.login("bob", password="pw")
        assert info.value.code is ErrorCode.SERVER_TIMEOUT
        server.close()


# -- pure functions ------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    assert backoff_delay(0, 1.0, 30.0, lambda: 0.0) == 0.5
    assert backoff_delay(0, 1.0, 30.0, lambda: 1.0) == 1.0
    assert backoff_delay(3, 1.0, 30.0, lambda: 1.0) == 8.0
    assert backoff_delay(10, 1.0, 30.0, lambda: 0.0) == 15.0
    assert backoff_delay(10_000, 1.0, 30.0, lambda: 1.0) == 30.0


def test_state_machine_refuses_illegal_transitions() -> None:
    check_transition(ConnectionState.LOGGED_OUT, ConnectionState.CONNECTING)
    with pytest.raises(RuntimeError):
        check_transition(ConnectionState.LOGGED_OUT, ConnectionState.CONNECTED)
    with pytest.raises(RuntimeError):
        check_transition(ConnectionState.CONNECTING, ConnectionState.RECONNECTING)
