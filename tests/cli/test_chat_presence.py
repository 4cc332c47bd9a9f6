"""``kibitz chat`` and presence: ``/follow USER`` prints the user's presence now, and its
changes print as they happen (driven through stdin/stdout, live server)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from kibitz import ChatClient, ChatOptions
from tests.cli.test_chat import Setup, terminal
from tests.conftest import LiveServer

pytestmark = pytest.mark.anyio


@pytest.fixture
async def served(live_server_factory: Callable[..., LiveServer]) -> AsyncIterator[Setup]:
    server = live_server_factory()
    app = server.create_app("acme", "chat")
    server.start()
    done = Setup(server, app)
    async with done.admin() as admin:
        await admin.register_users([("alice", "pw"), ("bob", "pw")])
    yield done


async def test_chat_shows_presence(served: Setup) -> None:
    bob = await terminal(served, "--user", "bob", "--password", "pw")
    alice = ChatClient(ChatOptions.for_server(served.server.rest, served.app["app_key"]))
    try:
        await bob.expect("* connected")
        await bob.type("/follow alice")
        assert await bob.expect("* presence alice") == "* presence alice: offline"
        await alice.login("alice", password="pw")
        line = await bob.expect("* presence alice: online")
        assert line == f"* presence alice: online ({alice.resource}: 1)"
        await alice.presence.publish("in a meeting")
        await bob.expect("in a meeting")
        await alice.logout()
        line = await bob.expect("* presence alice: offline")
        assert line == f"* presence alice: offline ({alice.resource}: 0) in a meeting"
        await bob.type("/follow bob")
        await bob.expect("! USER_ILLEGAL_ARGUMENT")
        await bob.type("/quit")
        assert await bob.exit_code() == 0
    finally:
        await alice.logout()
