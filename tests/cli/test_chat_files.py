"""``kibitz chat``: ``/send-file PATH`` uploads and sends; a received file prints with its
URL and share secret."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kibitz import ChatClient, ChatMessage, ChatOptions, MessageType

from .test_chat import WAIT, Inbox, Setup, setup, terminal

__all__ = ["setup"]

pytestmark = pytest.mark.anyio


async def test_send_file_and_show_received_files(setup: Setup, tmp_path: Path) -> None:
    alice = ChatClient(ChatOptions.for_server(setup.server.rest, setup.app["app_key"]))
    inbox = Inbox()
    alice.chat.add_message_listener(inbox)
    await alice.login("alice", password="pw")
    bob = await terminal(setup, "--user", "bob", "--password", "pw")
    notes = tmp_path / "notes.txt"
    notes.write_text("the plan")
    try:
        await bob.expect("* connected")
        await bob.type("/send-file notes.txt")
        await bob.expect("! no recipient yet")
        await bob.type("/to alice")
        await bob.type(f"/send-file {notes}")
        assert (await bob.expect("* sent ")).endswith("(file, 8 bytes)")
        async with asyncio.timeout(WAIT):
            await inbox.arrived.wait()
        (got,) = inbox.messages
        assert got.type is MessageType.FILE and got.body.filename == "notes.txt"
        assert (await alice.download(got, tmp_path / "copy")).read_text() == "the plan"
        await bob.type(f"/send-file {tmp_path / 'missing.png'}")
        await bob.expect("! FILE_NOT_FOUND (400)")
        await alice.chat.send_message(ChatMessage.file("bob", notes))
        line = await bob.expect("[alice] (file notes.txt, 8 bytes) http")
        assert "/chatfiles/" in line and "?share-secret=" in line
        await bob.type("/quit")
        assert await bob.exit_code() == 0
    finally:
        if bob.proc.returncode is None:
            bob.proc.kill()
            await bob.proc.wait()
        await alice.logout()
