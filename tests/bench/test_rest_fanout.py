"""The REST fan-out sender with several nodes: its sends alternate over the nodes' REST
bases, and every recipient a node names in its reply counts as acked."""

from __future__ import annotations

import asyncio
import json

import pytest

from kibitz.bench.http import RestPool
from kibitz.bench.traffic import Recorder, RestFanout

pytestmark = pytest.mark.anyio

RECEIVERS = [(1, "r1"), (2, "r2"), (3, "r3")]


async def _node(seen: list[str], name: str) -> asyncio.Server:
    """A fake node: answers every send naming all recipients; records which node took it."""
    reply = json.dumps({"data": {n: "ok" for _, n in RECEIVERS}}).encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                body = json.loads(await reader.readexactly(length))
                assert body["to"] == ["r1", "r2", "r3"] and body["from"] == "s"
                seen.append(name)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(reply), reply)
                )
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_sends_alternate_over_the_nodes() -> None:
    seen: list[str] = []
    servers = [await _node(seen, "a"), await _node(seen, "b")]
    pools = [
        RestPool(f"http://127.0.0.1:{s.sockets[0].getsockname()[1]}/o/a/messages/users", size=1)
        for s in servers
    ]
    rec = Recorder(local_base=0)
    rec.arm(1)
    try:
        await RestFanout(pools, "t", (0, "s"), RECEIVERS).run(rec, rate=200.0, duration=0.05)
    finally:
        for pool in pools:
            await pool.aclose()
        for s in servers:
            s.close()
    assert sorted(seen) == ["a"] * 5 + ["b"] * 5  # 10 sends, half on each node
    assert rec.sent == 10 * 3 and len(rec.acked_keys) == 10 * 3 and rec.failed == 0
    assert not rec.errors
