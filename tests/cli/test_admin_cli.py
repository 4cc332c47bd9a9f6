"""``kibitz user …`` and ``kibitz message send`` against a running server: users created,
shown, logged out, banned and deleted, and a message sent as a user that its recipient
receives — with the app's credentials read from the server's storage."""

from __future__ import annotations

import json
import subprocess

import pytest

from kibitz import ChatClient, ChatError, ChatOptions, ErrorCode
from tests.conftest import LiveServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def cli(server: LiveServer, *args: str) -> str:
    return server._cli(*args, "--server", server.rest)


async def test_users_and_a_message_without_curl(live_server: LiveServer) -> None:
    server = live_server
    server.create_app("acme", "ops")
    made = json.loads(cli(server, "user", "create", "acme", "ops", "alice", "--password", "pw-a1"))
    assert made["username"] == "alice" and made["activated"] is True
    cli(server, "user", "create", "acme", "ops", "bob", "--password", "pw-b1")
    msg_id = cli(
        server, "message", "send", "acme", "ops", "bob", "hello from ops", "--from", "alice"
    )
    assert msg_id.isdigit()

    bob = ChatClient(ChatOptions.for_server(server.rest, "acme#ops"))
    inbox = bob.chat.messages()
    try:
        await bob.login("bob", password="pw-b1")
        got = await inbox.get(within=10)  # the offline message, with the first pull
        assert (got.body.text, got.msg_id, got.sender) == ("hello from ops", msg_id, "alice")
        shown = json.loads(cli(server, "user", "show", "acme", "ops", "bob"))
        assert shown["online"] is True and shown["username"] == "bob"
        assert "logged out bob" in cli(server, "user", "logout", "acme", "ops", "bob")
    finally:
        inbox.close()
        await bob.logout()

    cli(server, "user", "deactivate", "acme", "ops", "bob")
    banned = ChatClient(ChatOptions.for_server(server.rest, "acme#ops"))
    with pytest.raises(ChatError) as refused:
        await banned.login("bob", password="pw-b1")
    assert refused.value.code is ErrorCode.USER_PERMISSION_DENIED
    cli(server, "user", "activate", "acme", "ops", "bob")
    cli(server, "user", "delete", "acme", "ops", "bob")
    with pytest.raises(subprocess.CalledProcessError) as gone:
        cli(server, "user", "show", "acme", "ops", "bob")
    assert b"USER_NOT_FOUND" in gone.value.stderr
