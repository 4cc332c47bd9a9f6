"""The fan-out sender's keep-alive HTTP client: Content-Length and chunked replies, reuse."""

from __future__ import annotations

import asyncio

import pytest

from kibitz.bench.http import HttpError, RestPool

pytestmark = pytest.mark.anyio


async def _server(replies: list[bytes]) -> tuple[asyncio.Server, list[bytes], list[int]]:
    """Answer each request with the next reply; record request bodies and connections."""
    bodies: list[bytes] = []
    conns: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(1)
        try:
            while replies:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                bodies.append(await reader.readexactly(length))
                writer.write(replies.pop(0))
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, bodies, conns


async def test_content_length_and_chunked_replies_reuse_one_connection() -> None:
    replies = [
        b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"data":{}}',
        b"HTTP/1.1 413 Too Large\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\ntoo \r\n5\r\nlarge\r\n0\r\n\r\n",
    ]
    server, bodies, conns = await _server(replies)
    port = server.sockets[0].getsockname()[1]
    async with server:
        pool = RestPool(f"http://127.0.0.1:{port}/acme/chat/messages/users", size=2)
        head = pool.request({"Authorization": "Bearer t"}, 3)
        assert head.startswith(b"POST /acme/chat/messages/users HTTP/1.1\r\n")
        assert await pool.send(head + b"abc") == (200, b'{"data":{}}')
        assert await pool.send(head + b"xyz") == (413, b"too large")
        await pool.aclose()
    assert bodies == [b"abc", b"xyz"] and len(conns) == 1


async def test_a_broken_reply_is_an_error_and_the_connection_is_dropped() -> None:
    server, _, conns = await _server([b"garbage\r\n\r\n", b"HTTP/1.1 204 OK\r\n\r\n"])
    port = server.sockets[0].getsockname()[1]
    async with server:
        pool = RestPool(f"http://127.0.0.1:{port}/x", size=1)
        with pytest.raises(HttpError):
            await pool.send(pool.request({}, 0))
        with pytest.raises(HttpError):  # a reply without a length cannot be framed
            await pool.send(pool.request({}, 0))
        await pool.aclose()
    assert len(conns) == 2
