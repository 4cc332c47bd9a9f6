"""The WebSocket route at ``/websocket``: binary frames, one ``MSync`` per frame."""

from __future__ import annotations

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from kibitz.server.services import Services

from .connection import Connection, FrameRejected
from .dispatch import Dispatcher

__all__ = ["gateway_route"]

CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_TOO_BIG = 1009


class _StarletteSocket:
    """Starlette's WebSocket as the connection's ``FrameSocket``."""

    def __init__(self, websocket: WebSocket, max_frame_bytes: int) -> None:
        self._ws = websocket
        self._max = max_frame_bytes

    async def receive(self) -> bytes | None:
        message = await self._ws.receive()
        if message["type"] == "websocket.disconnect":
            return None
        data = message.get("bytes")
        if data is None:
            raise FrameRejected(CLOSE_UNSUPPORTED_DATA, "binary frames only")
        if len(data) > self._max:
            raise FrameRejected(CLOSE_TOO_BIG, "frame too large")
        return bytes(data)

    async def send(self, data: bytes) -> None:
        await self._ws.send_bytes(data)

    async def close(self, code: int, reason: str = "") -> None:
        await self._ws.close(code, reason)


def gateway_route(services: Services) -> WebSocketRoute:
    dispatcher = Dispatcher(services)
    settings = services.settings

    async def msync(websocket: WebSocket) -> None:
        await websocket.accept()
        conn = Connection(
            _StarletteSocket(websocket, settings.max_frame_bytes),
            dispatcher,
            registry=services.sessions,
            settings=settings,
            clock=services.clock,
            ids=services.ids,
        )
        await conn.run()

    return WebSocketRoute("/websocket", msync, name="msync")
