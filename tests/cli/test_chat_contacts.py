"""``kibitz chat`` and contacts: a request to me prints (also one made while I was away),
``/accept USER`` answers it, ``/add USER`` asks (driven through stdin/stdout, live server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from kibitz import ChatClient, ChatOptions, ContactEvent
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
        await admin.register_users([("alice", "pw"), ("bob", "pw"), ("carol", "pw")])
    yield done


class Heard:
    def __init__(self) -> None:
        self.events: asyncio.Queue[ContactEvent] = asyncio.Queue(maxsize=100)

    def on_contact_event(self, event: ContactEvent) -> None:
        self.events.put_nowait(event)

    async def next(self) -> ContactEvent:
        async with asyncio.timeout(10):
            return await self.events.get()


async def test_chat_shows_and_accepts_contact_requests(served: Setup) -> None:
    alice = ChatClient(ChatOptions.for_server(served.server.rest, served.app["app_key"]))
    heard = Heard()
    alice.contacts.add_contact_listener(heard)
    try:
        await alice.login("alice", password="pw")
        await alice.contacts.add_contact("bob", "hi bob")  # bob is not logged in yet
        bob = await terminal(served, "--user", "bob", "--password", "pw")
        line = await bob.expect("* contact alice")
        assert line == "* contact alice: contactInvited: hi bob (/accept alice or /decline alice)"
        await bob.type("/accept alice")
        assert await bob.expect("* accept alice") == "* accept alice: done"
        assert (await heard.next()).operation == "contactAgreed"
        assert await alice.contacts.contacts() == ["bob"]
        await bob.type("/add carol see you")
        assert await bob.expect("* add carol") == "* add carol: done"
        await bob.type("/accept carol")  # carol asked nothing
        assert (await bob.expect("!")).startswith("! CONTACT_ADD_FAILED")
        await bob.type("/quit")
        assert await bob.exit_code() == 0
    finally:
        await alice.logout()
