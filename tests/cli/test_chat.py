"""``kibitz chat`` driven through stdin/stdout in a subprocess against a live server."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from kibitz import AdminClient, ChatClient, ChatMessage, ChatOptions
from tests.conftest import LiveServer

pytestmark = pytest.mark.anyio
WAIT = 20.0


@dataclass
class Setup:
    server: LiveServer
    app: dict[str, str]

    def admin(self) -> AdminClient:
        return AdminClient(
            self.server.rest,
            self.app["app_key"],
            client_id=self.app["client_id"],
            client_secret=self.app["client_secret"],
        )


@pytest.fixture
async def setup(live_server_factory: Callable[..., LiveServer]) -> AsyncIterator[Setup]:
    server = live_server_factory()
    app = server.create_app("acme", "chat")
    server.start()
    done = Setup(server, app)
    async with done.admin() as admin:
        await admin.register_users([("alice", "pw"), ("bob", "pw")])
    yield done


class Terminal:
    """A ``kibitz chat`` process: type lines, wait for output lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[str] = []

    async def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def expect(self, fragment: str) -> str:
        assert self.proc.stdout is not None
        async with asyncio.timeout(WAIT):
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    raise AssertionError(f"EOF before {fragment!r}; saw {self.seen}")
                line = raw.decode().rstrip("\n")
                self.seen.append(line)
                if fragment in line:
                    return line

    async def exit_code(self) -> int:
        async with asyncio.timeout(WAIT):
            return await self.proc.wait()


async def terminal(setup: Setup, *args: str) -> Terminal:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kibitz",
        "chat",
        "--server",
        setup.server.rest,
        "--app-key",
        setup.app["app_key"],
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return Terminal(proc)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[ChatMessage] = []
        self.arrived = asyncio.Event()

    def on_message_received(self, messages: list[ChatMessage]) -> None:
        self.messages.extend(messages)
        self.arrived.set()


async def test_chat_receives_live_and_sends_after_slash_to(setup: Setup) -> None:
    alice = ChatClient(ChatOptions.for_server(setup.server.rest, setup.app["app_key"]))
    inbox = Inbox()
    alice.chat.add_message_listener(inbox)
    await alice.login("alice", password="pw")
    bob = await terminal(setup, "--user", "bob", "--password", "pw")
    try:
        await bob.expect("* logged in as bob")
        await bob.expect("* connected")
        await alice.chat.send_message(ChatMessage.text("bob", "hello bob"))
        assert await bob.expect("[alice]") == "[alice] hello bob"
        await bob.type("hi nobody yet")
        await bob.expect("! no recipient yet")
        await bob.type("/to alice")
        await bob.expect("* now talking to alice")
        await bob.type("hi alice")
        sent_line = await bob.expect("* sent ")
        async with asyncio.timeout(WAIT):
            await inbox.arrived.wait()
        assert [(m.sender, m.body.text) for m in inbox.messages] == [("bob", "hi alice")]
        assert sent_line == f"* sent {inbox.messages[0].msg_id}"
        await bob.type("/to ghost are you there?")
        await bob.expect("! USER_NOT_FOUND (204)")
        await bob.type("/quit")
        assert await bob.exit_code() == 0
    finally:
        if bob.proc.returncode is None:
            bob.proc.kill()
            await bob.proc.wait()
        await alice.logout()


async def test_chat_reports_a_failed_login(setup: Setup) -> None:
    bob = await terminal(setup, "--user", "bob", "--password", "wrong")
    assert await bob.exit_code() == 1
    assert bob.proc.stderr is not None
    err = (await bob.proc.stderr.read()).decode()
    assert "login failed: INVALID_PASSWORD (102)" in err


async def test_chat_exits_when_the_server_logs_it_out(setup: Setup) -> None:
    async with setup.admin() as admin:
        token = await admin.user_token("bob")
        bob = await terminal(setup, "--user", "bob", "--token", token)
        await bob.expect("* connected")
        await admin.delete_user("bob")
        await bob.expect("* logged out by the server: USER_REMOVED (207)")
        assert await bob.exit_code() == 2
