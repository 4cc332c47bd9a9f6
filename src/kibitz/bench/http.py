"""A lean HTTP/1.1 keep-alive client for the REST fan-out sender.

httpx spends most of its time managing its pool once many requests are in flight (the
fan-out saturation step is exactly that), so the sender keeps a fixed set of persistent
connections, writes one pre-built request per send and reads the reply by Content-Length.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Final
from urllib.parse import urlsplit

__all__ = ["HttpError", "RestPool"]

_MAX_HEAD: Final = 64 * 1024


class HttpError(Exception):
    """The connection broke or the reply was not HTTP/1.1 as expected."""


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if len(head) > _MAX_HEAD:
            raise HttpError("oversized reply head")
        lines = head.decode("latin1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise HttpError(f"not an HTTP reply: {lines[0][:60]!r}")
        status = int(parts[1])
        length: int | None = None
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            return status, await self._chunked()
        if length is None:
            raise HttpError("reply without Content-Length")
        return status, await self.reader.readexactly(length)

    async def _chunked(self) -> bytes:
        body = bytearray()
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return bytes(body)
            body += await self.reader.readexactly(size)
            await self.reader.readexactly(2)

    def close(self) -> None:
        self.writer.close()


class RestPool:
    """``size`` persistent connections to one origin; ``post`` borrows an idle one."""

    def __init__(self, url: str, size: int, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path = parts.path or "/"
        self.tls = ssl.create_default_context() if parts.scheme == "https" else None
        self.timeout = timeout
        self._size = size
        self._opened = 0
        self._idle: asyncio.Queue[_Conn] = asyncio.Queue(size)

    def request(self, headers: dict[str, str], body_len: int) -> bytes:
        """The request head for a POST of ``body_len`` bytes (the body follows it)."""
        lines = [f"POST {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines += [f"Content-Length: {body_len}", "", ""]
        return "\r\n".join(lines).encode("latin1")

    async def _borrow(self) -> _Conn:
        if self._idle.empty() and self._opened < self._size:
            self._opened += 1
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.tls)
            except OSError:
                self._opened -= 1
                raise
            return _Conn(reader, writer)
        return await self._idle.get()

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """One exchange; a connection that fails is dropped (the next send reopens one)."""
        conn: _Conn | None = None
        try:
            async with asyncio.timeout(self.timeout):
                conn = await self._borrow()
                result = await conn.exchange(request)
        except (OSError, EOFError, HttpError, TimeoutError, ValueError):
            if conn is not None:
                conn.close()
                self._opened -= 1
            raise
        self._idle.put_nowait(conn)
        return result

    async def aclose(self) -> None:
        while not self._idle.empty():
            self._idle.get_nowait().close()
