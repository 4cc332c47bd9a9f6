"""The msync WebSocket at ``/websocket``: binary frames, one ``MSync`` per frame.

Two ways in, one gateway. ``gateway_route`` is the Starlette ``WebSocketRoute`` (declared in
the app's routes). ``GatewayMiddleware`` answers the same path on raw ASGI, in front of the
REST middleware stack, so the several frames of every message skip the per-message wrappers
that only HTTP needs; ``create_app`` installs it, and the route stays as the documented
fallback (it is reached only if the middleware is not installed). Both connect through the
app's ``Gateway`` (gateway.py), as the raw socket protocol does.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from .close import Close
from .connection import FrameRejected
from .gateway import PATH, Gateway

__all__ = ["PATH", "GatewayMiddleware", "gateway_route"]


def _frame(message: Any, max_bytes: int) -> bytes | None:
    if message["type"] == "websocket.disconnect":
        return None
    data = message.get("bytes")
    if data is None:
        raise FrameRejected(Close.UNSUPPORTED_DATA, "binary frames only")
    if len(data) > max_bytes:
        raise FrameRejected(Close.TOO_BIG, "frame too large")
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


def gateway_route(gateway: Gateway) -> WebSocketRoute:
    max_bytes = gateway.max_frame_bytes

    async def msync(websocket: WebSocket) -> None:
        await websocket.accept()
        await gateway.connection(_StarletteSocket(websocket, max_bytes)).run()

    return WebSocketRoute(PATH, msync, name="msync")


class GatewayMiddleware:
    """Serves ``/websocket`` directly on ASGI; everything else goes on to ``app``."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self._gateway = gateway
        self._max = gateway.max_frame_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        await self._gateway.connection(_AsgiSocket(receive, send, self._max)).run()
