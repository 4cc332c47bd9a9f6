"""The msync WebSocket at ``/websocket``: binary frames, one ``MSync`` per frame.

Two ways in, one gateway. ``gateway_route`` is the Starlette ``WebSocketRoute`` (declared in
the app's routes). ``GatewayMiddleware`` answers the same path on raw ASGI, in front of the
REST middleware stack, so the several frames of every message skip the per-message wrappers
that only HTTP needs; ``create_app`` installs it, and the route stays as the documented
fallback (it is reached only if the middleware is not installed).
"""

from __future__ import annotations

from typing import Any

from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from kibitz.server.services import Services

from .connection import Connection, FrameRejected
from .dispatch import Dispatcher

__all__ = ["PATH", "GatewayMiddleware", "gateway_route"]

PATH = "/websocket"
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_TOO_BIG = 1009


def _frame(message: Any, max_bytes: int) -> bytes | None:
    if message["type"] == "websocket.disconnect":
        return None
    data = message.get("bytes")
    if data is None:
        raise FrameRejected(CLOSE_UNSUPPORTED_DATA, "binary frames only")
    if len(data) > max_bytes:
        raise FrameRejected(CLOSE_TOO_BIG, "frame too large")
    return bytes(data)


class _AsgiSocket:
    """Plain ASGI websocket messages as the connection's ``FrameSocket``."""

    def __init__(self, receive: Receive, send: Send, max_frame_bytes: int) -> None:
        self._receive = receive
        self._send = send
        self._max = max_frame_bytes

    async def receive(self) -> bytes | None:
        return _frame(await self._receive(), self._max)

    async def send(self, data: bytes) -> None:
        await self._send({"type": "websocket.send", "bytes": data})

    async def close(self, code: int, reason: str = "") -> None:
        await self._send({"type": "websocket.close", "code": code, "reason": reason})


class _StarletteSocket:
    """Starlette's WebSocket as the connection's ``FrameSocket``."""

    def __init__(self, websocket: WebSocket, max_frame_bytes: int) -> None:
        self._ws = websocket
        self._max = max_frame_bytes

    async def receive(self) -> bytes | None:
        return _frame(await self._ws.receive(), self._max)

    async def send(self, data: bytes) -> None:
        await self._ws.send_bytes(data)

    async def close(self, code: int, reason: str = "") -> None:
        await self._ws.close(code, reason)


class _Gateway:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.dispatcher = Dispatcher(services)

    def connection(self, socket: Any) -> Connection:
        s = self.services
        return Connection(
            socket,
            self.dispatcher,
            registry=s.sessions,
            settings=s.settings,
            clock=s.clock,
            ids=s.ids,
            on_close=self.dispatcher.closed,
        )


def gateway_route(services: Services) -> WebSocketRoute:
    gateway = _Gateway(services)
    max_bytes = services.settings.max_frame_bytes

    async def msync(websocket: WebSocket) -> None:
        await websocket.accept()
        await gateway.connection(_StarletteSocket(websocket, max_bytes)).run()

    return WebSocketRoute(PATH, msync, name="msync")


class GatewayMiddleware:
    """Serves ``/websocket`` directly on ASGI; everything else goes on to ``app``."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self._gateway = _Gateway(services)
        self._max = services.settings.max_frame_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        await self._gateway.connection(_AsgiSocket(receive, send, self._max)).run()
