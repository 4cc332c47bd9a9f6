"""Python SDK ↔ the official Agora Chat Web SDK (npm ``agora-chat`` 1.4.0 and
``easemob-websdk`` 4.21.1, unmodified, under Node), both ways, through a live server."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from kibitz import AdminClient, ChatMessage, MessageType
from tests.sdk.conftest import WAIT, Clients, Live, fresh
from tests.websdk.npm import ensure_node_modules, node_executable, unavailable_reason

pytestmark = [pytest.mark.anyio, pytest.mark.websdk]
PEER = Path(__file__).parent / "websdk_peer.js"
SDKS = ["agora-chat", "easemob-websdk"]
EXT = {"s": "hello", "i": 42, "d": 1.5, "yes": True, "obj": {"k": [1, "two", None]}}


@pytest.fixture(scope="module")
def node() -> str:
    if ensure_node_modules() is None:
        pytest.skip(f"Web SDK lane unavailable: {unavailable_reason()}")
    found = node_executable()
    assert found is not None
    return found


class Peer:
    """One run of websdk_peer.js: reads its JSON lines, answers its signals."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, node: str, case: str, config: dict[str, Any]) -> Peer:
        env = {**os.environ, "WEBSDK_CONFIG": json.dumps(config)}
        proc = await asyncio.create_subprocess_exec(
            node,
            str(PEER),
            case,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        async with asyncio.timeout(40):
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    assert self.proc.stderr is not None
                    err = (await self.proc.stderr.read()).decode()[-2000:]
                    raise AssertionError(f"the Web SDK peer ended early:\n{err}")
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(parsed, dict):
                    return parsed

    async def answer(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        await self.proc.stdin.drain()

    async def result(self) -> dict[str, Any]:
        result = await self.line()
        assert result.get("ok"), json.dumps(result, indent=2)
        async with asyncio.timeout(20):
            await self.proc.wait()
        return result


async def config(live: Live, admin: AdminClient, sdk: str, **extra: Any) -> dict[str, Any]:
    web, py = fresh("web"), fresh("py")
    await admin.register_users([(web, "pw"), (py, "pw")])
    return {
        "sdk": sdk,
        "rest": live.server.rest,
        "ws": live.server.ws,
        "appKey": live.chat.app_key,
        "appId": live.chat.creds["app_id"],
        "appCertificate": live.chat.creds["app_certificate"],
        "appToken": await admin.app_token(),
        "users": {"web": {"name": web, "password": "pw"}, "py": {"name": py, "password": "pw"}},
        "timeoutMs": 30000,
        **extra,
    }


@pytest.mark.parametrize("sdk", SDKS)
async def test_python_to_web_sdk(
    node: str, live: Live, clients: Clients, admin: AdminClient, sdk: str
) -> None:
    cfg = await config(live, admin, sdk)
    web, py = cfg["users"]["web"]["name"], cfg["users"]["py"]["name"]
    client, _ = await clients.login(live.chat, py, "pw")
    peer = await Peer.start(node, "receive", cfg)
    assert (await peer.line()) == {"signal": "ready"}
    sent = [
        await client.chat.send_message(m)
        for m in [
            ChatMessage.text(web, "from python", ext=EXT),
            ChatMessage.custom(web, "gift", {"n": "3"}, ext=EXT),
            ChatMessage.cmd(web, "typing", ext=EXT),
            ChatMessage.location(web, 48.8584, 2.2945, "Paris", ext=EXT),
        ]
    ]
    await peer.answer()
    got = {m["type"]: m for m in (await peer.result())["messages"]}
    assert sorted(got) == ["cmd", "custom", "loc", "txt"]
    for kind, s in zip(["txt", "custom", "cmd", "loc"], sent, strict=True):
        m = got[kind]
        assert (m["id"], m["from"], m["to"], m["time"]) == (s.msg_id, py, web, s.timestamp)
        assert m["ext"] == EXT
    assert got["txt"]["msg"] == "from python"
    assert (got["custom"]["customEvent"], got["custom"]["customExts"]) == ("gift", {"n": "3"})
    assert got["cmd"]["action"] == "typing"
    assert (got["loc"]["lat"], got["loc"]["lng"], got["loc"]["addr"]) == (48.8584, 2.2945, "Paris")


@pytest.mark.parametrize("sdk", SDKS)
async def test_web_sdk_to_python(
    node: str, live: Live, clients: Clients, admin: AdminClient, sdk: str
) -> None:
    cfg = await config(live, admin, sdk)
    web, py = cfg["users"]["web"]["name"], cfg["users"]["py"]["name"]
    client, rec = await clients.login(live.chat, py, "pw")
    peer = await Peer.start(node, "send", cfg)
    acks = (await peer.result())["acks"]
    await rec.until(lambda: len(rec.messages) == 3 and len(rec.commands) == 1, within=WAIT)
    text, custom, location = rec.messages
    (cmd,) = rec.commands
    assert [text.msg_id, custom.msg_id, cmd.msg_id, location.msg_id] == acks
    for m in (text, custom, cmd, location):
        assert (m.sender, m.to) == (web, py)
        assert dict(m.ext) == EXT
    assert (text.type, text.body.text) == (MessageType.TEXT, "from the web")
    assert (custom.body.custom_event, dict(custom.body.custom_exts)) == ("gift", {"n": "3"})
    assert cmd.body.action == "typing"
    assert (location.body.latitude, location.body.longitude) == (48.8584, 2.2945)
    assert location.body.address == "Paris"
    assert client.state.value == "connected"
