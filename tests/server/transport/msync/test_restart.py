"""Durability across a real server restart: an acknowledged message is never lost."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import LiveServer

from .client import MsyncClient, body_text

pytestmark = pytest.mark.anyio


def user_tokens(server: LiveServer, *names: str) -> dict[str, str]:
    creds = server.create_app("acme", "chat")
    base = f"{server.rest}/acme/chat"
    with httpx.Client(timeout=10) as http:
        grant = {"grant_type": "client_credentials", **creds}
        app_token = http.post(f"{base}/token", json=grant).json()["access_token"]
        headers = {"Authorization": f"Bearer {app_token}"}
        users = [{"username": n, "password": "secret"} for n in names]
        assert http.post(f"{base}/users", json=users, headers=headers).status_code == 200
        tokens = {}
        for n in names:
            body = {"grant_type": "password", "username": n, "password": "secret"}
            tokens[n] = http.post(f"{base}/token", json=body).json()["access_token"]
    return tokens


async def test_messages_survive_a_restart(live_server: LiveServer) -> None:
    tokens = user_tokens(live_server, "alice", "bob")
    a = await MsyncClient.open(live_server.ws, "acme#chat")
    await a.login("alice", tokens["alice"], "a1")
    sent = [(await a.send_text("bob", f"before restart {i}")).server_id for i in range(3)]
    b = await MsyncClient.open(live_server.ws, "acme#chat")
    await b.login("bob", tokens["bob"], "b1")
    got = await b.pull("alice")
    assert [m.id for m in got] == sent
    last = (await a.send_text("bob", "sent right before the stop")).server_id

    await asyncio.to_thread(live_server.restart)
    assert await a.closed() in (1001, 1012)
    await b.closed()

    b = await MsyncClient.open(live_server.ws, "acme#chat")
    await b.login("bob", tokens["bob"], "b1")
    assert await b.unread() == {"alice": 1}
    (meta,) = await b.pull("alice")
    assert (meta.id, body_text(meta)) == (last, "sent right before the stop")
    a = await MsyncClient.open(live_server.ws, "acme#chat")
    await a.login("alice", tokens["alice"], "a1")
    after = (await a.send_text("bob", "after restart")).server_id
    assert after > last
    await b.notice()
    assert [m.id for m in await b.pull("alice")] == [after]
    await a.close()
    await b.close()
