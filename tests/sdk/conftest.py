"""Fixtures for the SDK's live tests: one real ``kibitz serve`` per module (fresh users per
test), an ``AdminClient`` on it, and logged-in ``ChatClient``s that log out at teardown."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from kibitz import AdminClient, ChatClient, ChatMessage, ChatOptions, ErrorCode
from kibitz.server.domain import accesstoken2
from tests.conftest import LiveServer

WAIT = 15.0
_serial = itertools.count(1)


@dataclass
class LiveApp:
    server: LiveServer
    creds: dict[str, str]

    @property
    def app_key(self) -> str:
        return self.creds["app_key"]

    def options(self, **kw: Any) -> ChatOptions:
        return ChatOptions.for_server(self.server.rest, self.app_key, **kw)

    def admin(self) -> AdminClient:
        return AdminClient(
            self.server.rest,
            self.app_key,
            client_id=self.creds["client_id"],
            client_secret=self.creds["client_secret"],
        )

    def user_token_007(self, uuid: str, ttl_s: int = 3600, issued_ago_s: int = 0) -> str:
        return accesstoken2.build_chat_user_token(
            self.creds["app_id"],
            self.creds["app_certificate"],
            uuid,
            ttl_s,
            issue_ts=int(time.time()) - issued_ago_s,
        )


@dataclass
class Live:
    server: LiveServer
    chat: LiveApp  # default app (4 devices per user)
    solo: LiveApp  # one device per user: a second login kicks the first


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    server = LiveServer(data_dir=tmp_path_factory.mktemp("sdk"), database_url=None)
    chat = LiveApp(server, server.create_app("acme", "chat"))
    solo = LiveApp(server, server.create_app("acme", "solo", max_devices="1"))
    server.start()
    try:
        yield Live(server, chat, solo)
    finally:
        server.stop()


def fresh(role: str) -> str:
    return f"{role}{next(_serial)}x{int(time.time() * 1000) % 100_000}"


class Recorder:
    """A listener for everything; ``until(pred)`` waits (bounded) for a condition."""

    def __init__(self) -> None:
        self.messages: list[ChatMessage] = []
        self.commands: list[ChatMessage] = []
        self.calls: list[str] = []
        self._changed = asyncio.Event()

    def _note(self) -> None:
        self._changed.set()

    def on_message_received(self, messages: list[ChatMessage]) -> None:
        self.messages.extend(messages)
        self._note()

    def on_cmd_message_received(self, messages: list[ChatMessage]) -> None:
        self.commands.extend(messages)
        self._note()

    def on_connected(self) -> None:
        self.calls.append("connected")
        self._note()

    def on_disconnected(self, code: ErrorCode) -> None:
        self.calls.append(f"disconnected:{code.name}")
        self._note()

    def on_token_will_expire(self) -> None:
        self.calls.append("token_will_expire")
        self._note()

    def on_token_expired(self) -> None:
        self.calls.append("token_expired")
        self._note()

    def on_logged_out(self, code: ErrorCode) -> None:
        self.calls.append(f"logged_out:{code.name}")
        self._note()

    @property
    def texts(self) -> list[str]:
        return [m.body.text for m in self.messages]

    async def until(self, predicate: Callable[[], bool], within: float = WAIT) -> None:
        try:
            async with asyncio.timeout(within):
                while not predicate():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"condition not met; calls={self.calls} texts={self.texts}"
            ) from None


@dataclass
class Clients:
    """Makes clients on an app and logs every one of them out at teardown."""

    made: list[ChatClient] = field(default_factory=list)

    def new(self, app: LiveApp, **kw: Any) -> tuple[ChatClient, Recorder]:
        client = ChatClient(app.options(**kw))
        rec = Recorder()
        client.chat.add_message_listener(rec)
        client.add_connection_listener(rec)
        self.made.append(client)
        return client, rec

    async def login(
        self, app: LiveApp, user: str, password: str, **kw: Any
    ) -> tuple[ChatClient, Recorder]:
        client, rec = self.new(app, **kw)
        await client.login(user, password=password)
        return client, rec


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    made = Clients()
    yield made
    for client in made.made:
        await client.logout()


@pytest.fixture
async def admin(live: Live) -> AsyncIterator[AdminClient]:
    async with live.chat.admin() as client:
        yield client


@pytest.fixture
async def pair(admin: AdminClient) -> dict[str, str]:
    """Two fresh users, role → name; every password is "pw"."""
    alice, bob = fresh("alice"), fresh("bob")
    await admin.register_users([(alice, "pw"), (bob, "pw")])
    return {"alice": alice, "bob": bob}
