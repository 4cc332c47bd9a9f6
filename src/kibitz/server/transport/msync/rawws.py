"""``/websocket`` straight on the socket: a uvicorn WebSocket protocol for msync.

Through ASGI every frame costs uvicorn's sans-I/O parser generator, an ``asyncio.Queue``
hand-off, ASGI event dicts both ways and one ``transport.write`` — one system call — per
frame; on a single core that machinery was the largest cost of online delivery
(docs/bench-findings.md B6). This protocol keeps the same ``Connection`` and dispatcher, and
feeds them from a lean frame layer: client frames are parsed in ``data_received`` and
unmasked with the websockets C helper, the connection's frames are coalesced into one write
per event-loop turn. The opening handshake is still websockets' ``ServerProtocol``.

The app's ``Gateway`` (gateway.py) builds the class once, and ``serving.uvicorn_config``
installs it as ``uvicorn.Config(ws=...)`` for ``kibitz serve`` and the tests alike; any other
WebSocket path is handed to uvicorn's own protocol, so the ASGI app answers it as before.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Final, cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.speedups import apply_mask

from .close import Close
from .connection import Connection, FrameRejected, FrameSocket

__all__ = ["RawFrameSocket", "ws_protocol"]

_PAUSE_AT: Final = 64  # unread frames before the socket stops reading
_RESUME_AT: Final = 16
_BINARY: Final = 0x2
# A closing connection's buffered output gets this long to leave; then the TCP connection is
# aborted. A peer that stopped reading never drains it, and ``transport.close()`` alone waits
# for the buffer to empty, holding the socket, its descriptor and its bytes indefinitely.
_DRAIN_S: Final = 2.0
# Frames ``send_nowait`` gathers for one write (two entries each: header, payload); past
# that the connection's bounded outbox takes over, as for a slow reader.
_GATHER_MAX: Final = 64


def _header(opcode: int, length: int) -> bytes:
    if length < 126:
        return bytes((0x80 | opcode, length))
    if length < 65536:
        return bytes((0x80 | opcode, 126)) + length.to_bytes(2, "big")
    return bytes((0x80 | opcode, 127)) + length.to_bytes(8, "big")


class RawFrameSocket:
    """The connection's ``FrameSocket`` over one transport: frames in a bounded deque,
    writes gathered until the end of the current loop turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._inbox: deque[bytes | FrameRejected | None] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._writable = asyncio.Event()
        self._writable.set()
        self._paused = False
        self._closed = False
        self._gone = False  # the transport reported the connection lost
        self._abort_timer: asyncio.TimerHandle | None = None
        self._timer: asyncio.TimerHandle | None = None  # the receive deadline's
        self._deadline = 0.0
        self._timer_at = 0.0

    # -- fed by the protocol -------------------------------------------------------------

    def deliver(self, item: bytes | FrameRejected | None) -> None:
        self._inbox.append(item)
        if len(self._inbox) >= _PAUSE_AT and not self._paused and item is not None:
            self._paused = True
            self._transport.pause_reading()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def set_writable(self, writable: bool) -> None:
        if writable:
            self._writable.set()
        else:
            self._writable.clear()

    def transport_lost(self) -> None:
        """The TCP connection is gone (``connection_lost``): nothing is left to abort."""
        self._gone = True
        if self._abort_timer is not None:
            self._abort_timer.cancel()
            self._abort_timer = None
        self.lost()

    def lost(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._out.clear()
        self._writable.set()  # a paused writer must not wait for a buffer that never drains
        self.deliver(None)

    # -- FrameSocket ---------------------------------------------------------------------

    async def receive(self) -> bytes | None:
        while not self._inbox:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._take()

    def _take(self) -> bytes | None:
        item = self._inbox.popleft()
        if self._paused and len(self._inbox) <= _RESUME_AT:
            self._paused = False
            if not self._closed:
                self._transport.resume_reading()
        if isinstance(item, FrameRejected):
            raise item
        return item

    async def receive_within(self, limit_s: float) -> bytes | None:
        """``receive()``, raising TimeoutError after ``limit_s`` without a frame. No timer
        when a frame is already waiting (the common case under load), and no timer per
        wait otherwise: one timer, re-armed only when it fires before the current wait's
        deadline (a session that receives a frame a second arms it once a deadline)."""
        if not self._inbox:
            loop = self._loop
            waiter = self._waiter = loop.create_future()
            self._deadline = deadline = loop.time() + limit_s
            if self._timer is None or deadline < self._timer_at:  # (the login's is longer)
                if self._timer is not None:
                    self._timer.cancel()
                self._timer_at = deadline
                self._timer = loop.call_at(deadline, self._on_timer)
            try:
                await waiter
            finally:
                self._waiter = None
            if not self._inbox:
                return await self.receive()
        return self._take()

    def _on_timer(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done() or self._closed:
            return  # no wait under way: the next one arms the timer again
        if self._loop.time() >= self._deadline:
            waiter.set_exception(TimeoutError())
        else:
            self._timer_at = self._deadline
            self._timer = self._loop.call_at(self._deadline, self._on_timer)

    async def send(self, data: bytes) -> None:
        if self._closed:
            raise ConnectionError("the peer has gone")
        if not self._writable.is_set():
            await self._writable.wait()
            if self._closed:
                raise ConnectionError("the peer has gone")
        self._out.append(_header(_BINARY, len(data)))
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def send_nowait(self, data: bytes) -> bool:
        """``send`` without a coroutine, when it would not wait: False (nothing taken) when
        the peer has gone, the transport is past its high-water mark, or this turn's output
        already holds ``_GATHER_MAX`` frames — the connection's outbox then holds it."""
        if self._closed or not self._writable.is_set() or len(self._out) >= _GATHER_MAX:
            return False
        self._out.append(_header(_BINARY, len(data)))
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return True

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and not self._closed:
            self._transport.write(b"".join(self._out))
        self._out.clear()

    async def close(self, code: int, reason: str = "") -> None:
        self.close_now(code, reason)

    def close_now(self, code: int, reason: str = "") -> None:
        """Send the closing frame (after anything queued) and end the TCP connection: at
        once (abort) when the peer is not reading, else once the output has left, within
        ``_DRAIN_S``."""
        if self._closed:
            return
        payload = code.to_bytes(2, "big") + reason.encode()[:123]
        self._out.append(_header(0x8, len(payload)) + payload)
        self._flush()
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._writable.is_set():  # the buffer is past its high-water mark: not read
            self._transport.abort()
            return
        self._transport.close()
        if not self._gone:
            self._abort_timer = self._loop.call_later(_DRAIN_S, self._abort)

    def _abort(self) -> None:
        self._abort_timer = None
        if not self._gone:
            self._transport.abort()

    def pong(self, payload: bytes) -> None:
        if not self._closed:
            self._out.append(_header(0xA, len(payload)) + payload)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._loop.call_soon(self._flush)


class _MsyncProtocol(asyncio.Protocol):
    """One upgraded connection. The class attributes are bound by ``ws_protocol``."""

    connect: Callable[[FrameSocket], Connection]
    max_frame_bytes: int
    path: bytes

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._config = config
        self._server_state = server_state
        self._app_state = app_state
        self._loop = _loop or asyncio.get_event_loop()
        self._transport: asyncio.Transport | None = None
        self._socket: RawFrameSocket | None = None
        self._buf = bytearray()
        self._fragments: list[bytes] = []
        self._fragmented_size = 0
        self._other: asyncio.Protocol | None = None  # uvicorn's protocol, for other paths

    # -- uvicorn's side ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._server_state.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._other is not None:
            self._other.connection_lost(exc)
            return
        self._server_state.connections.discard(self)
        if self._socket is not None:
            self._socket.transport_lost()

    def eof_received(self) -> bool | None:
        return self._other.eof_received() if self._other is not None else None

    def pause_writing(self) -> None:
        if self._other is not None:
            self._other.pause_writing()
        elif self._socket is not None:
            self._socket.set_writable(False)

    def resume_writing(self) -> None:
        if self._other is not None:
            self._other.resume_writing()
        elif self._socket is not None:
            self._socket.set_writable(True)

    def shutdown(self) -> None:
        """The server is stopping (uvicorn calls this on every open connection)."""
        if self._other is not None:
            return  # uvicorn holds that protocol in its own set and shuts it down itself
        if self._socket is not None:
            self._socket.close_now(Close.SERVICE_RESTART)
            self._socket.lost()
        elif self._transport is not None:
            self._transport.close()

    # -- bytes in ------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._other is not None:
            self._other.data_received(data)
            return
        if self._socket is None:
            self._handshake(data)
            return
        self._buf += data
        self._frames()

    def _handshake(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        line = data.split(b"\r\n", 1)[0].split(b" ")
        path = line[1].split(b"?", 1)[0] if len(line) > 1 else b""
        if path != self.path:
            self._hand_over(data)
            return
        hs = ServerProtocol(max_size=None)
        hs.receive_data(data)
        events = hs.events_received()
        request = events[0] if events and isinstance(events[0], Request) else None
        if request is None:
            transport.close()
            return
        response = hs.accept(request)
        hs.send_response(response)
        transport.write(b"".join(hs.data_to_send()))
        if response.status_code != 101:
            transport.close()
            return
        self._socket = RawFrameSocket(transport, self._loop)
        task = self._loop.create_task(self._serve(self._socket))
        tasks = self._server_state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def _hand_over(self, data: bytes) -> None:
        """Not msync: let uvicorn's own WebSocket protocol (and the ASGI app) answer. uvicorn
        makes this object the transport's protocol after this call, so every later event
        is forwarded."""
        transport = self._transport
        assert transport is not None
        self._server_state.connections.discard(self)
        other = WebSocketsSansIOProtocol(
            config=self._config, server_state=self._server_state, app_state=self._app_state
        )
        self._other = other
        other.connection_made(transport)
        other.data_received(data)

    async def _serve(self, socket: RawFrameSocket) -> None:
        await self.connect(socket).run()

    def _frames(self) -> None:
        buf, socket = self._buf, self._socket
        assert socket is not None
        pos, end = 0, len(buf)
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                if end - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if end - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if b0 & 0x70 or not b1 & 0x80:  # reserved bits, or a client frame not masked
                self._reject(Close.PROTOCOL_ERROR, "protocol error")
                return
            if length > self.max_frame_bytes:
                self._reject(Close.TOO_BIG, "frame too large")
                return
            start = pos + head + 4
            if end - start < length:
                break
            payload = apply_mask(bytes(buf[start : start + length]), bytes(buf[start - 4 : start]))
            pos = start + length
            if not self._frame(b0, payload):
                return
        if pos:
            del buf[:pos]

    def _frame(self, b0: int, payload: bytes) -> bool:
        """Handle one frame; False once the connection is being closed."""
        socket = self._socket
        assert socket is not None
        fin, opcode = b0 & 0x80, b0 & 0x0F
        if opcode == _BINARY or (opcode == 0x0 and self._fragments):
            if opcode == _BINARY and self._fragments:
                self._reject(Close.PROTOCOL_ERROR, "expected a continuation frame")
                return False
            if not fin or self._fragments:
                self._fragments.append(payload)
                self._fragmented_size += len(payload)
                if self._fragmented_size > self.max_frame_bytes:
                    self._reject(Close.TOO_BIG, "frame too large")
                    return False
                if not fin:
                    return True
                payload = b"".join(self._fragments)
                self._fragments, self._fragmented_size = [], 0
            socket.deliver(payload)
            return True
        if opcode == 0x1:
            self._reject(Close.UNSUPPORTED_DATA, "binary frames only")
            return False
        if opcode == 0x9 and fin and len(payload) <= 125:
            socket.pong(payload)
            return True
        if opcode == 0xA:
            return True
        if opcode == 0x8:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else Close.NORMAL
            socket.close_now(code if code in (Close.NORMAL, Close.GOING_AWAY) else Close.NORMAL)
            socket.lost()
            return False
        self._reject(Close.PROTOCOL_ERROR, "protocol error")
        return False

    def _reject(self, code: int, reason: str) -> None:
        """Hand the connection a rejection; it closes with this code, as on ASGI."""
        socket = self._socket
        assert socket is not None
        if self._transport is not None:
            self._transport.pause_reading()
        self._buf.clear()
        socket.deliver(FrameRejected(code, reason))


def ws_protocol(
    connect: Callable[[FrameSocket], Connection], max_frame_bytes: int, path: str
) -> type[asyncio.Protocol]:
    """The protocol class for ``uvicorn.Config(ws=...)``: ``path`` is served by
    ``connect(socket).run()``, other paths by uvicorn's own WebSocket protocol."""
    return type(
        "MsyncWebSocketProtocol",
        (_MsyncProtocol,),
        {
            "connect": staticmethod(connect),
            "max_frame_bytes": max_frame_bytes,
            "path": path.encode(),
        },
    )
