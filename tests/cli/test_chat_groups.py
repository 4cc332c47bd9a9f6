"""``kibitz chat`` in a group: membership events print, ``/group ID`` switches the
conversation, group messages go both ways (driven through stdin/stdout, live server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from kibitz import ChatClient, ChatMessage, ChatOptions, ChatType
from tests.cli.test_chat import WAIT, Inbox, Setup, terminal
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


async def test_chat_in_a_group(served: Setup) -> None:
    alice = ChatClient(ChatOptions.for_server(served.server.rest, served.app["app_key"]))
    inbox = Inbox()
    alice.chat.add_message_listener(inbox)
    await alice.login("alice", password="pw")
    bob = await terminal(served, "--user", "bob", "--password", "pw")
    try:
        await bob.expect("* connected")
        gid = await alice.groups.create("team", members=["bob"])
        line = await bob.expect(f"* group {gid}")
        assert line == f"* group {gid} (team): directJoined by alice → bob"
        await bob.type(f"/group {gid}")
        await bob.expect(f"* now talking to group {gid}")
        await bob.type("hello team")
        sent_line = await bob.expect("* sent ")
        async with asyncio.timeout(WAIT):
            await inbox.arrived.wait()
        (got,) = inbox.messages
        assert (got.sender, got.to, got.chat_type, got.body.text) == (
            "bob",
            gid,
            ChatType.GROUP,
            "hello team",
        )
        assert sent_line == f"* sent {got.msg_id}"
        await alice.chat.send_message(ChatMessage.text(gid, "hi bob", chat_type=ChatType.GROUP))
        assert await bob.expect("hi bob") == f"[#{gid} alice] hi bob"
        await alice.groups.remove_members(gid, ["bob"])
        assert await bob.expect("removeMember") == f"* group {gid}: removeMember by alice → bob"
        await bob.type("still there?")
        await bob.expect("! GROUP_NOT_JOINED (602)")
        await bob.type("/group 987654321 anyone?")
        await bob.expect("! GROUP_NOT_EXIST (605)")
        await bob.type("/quit")
        assert await bob.exit_code() == 0
    finally:
        if bob.proc.returncode is None:
            bob.proc.kill()
            await bob.proc.wait()
        await alice.logout()
