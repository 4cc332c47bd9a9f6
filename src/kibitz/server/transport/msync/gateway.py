"""The msync gateway of one app, built once by ``create_app`` (``app.state.gateway``).

It holds the dispatcher (the handler table), makes a ``Connection`` for any ``FrameSocket``,
and owns the raw-socket protocol class that ``/websocket`` runs on under uvicorn
(rawws.py). The ASGI ways in (endpoint.py) and the raw protocol all connect through it,
so every socket layer drives the same table.
"""

from __future__ import annotations

import asyncio

from kibitz.server.services import Services

from .connection import Connection, FrameSocket
from .dispatch import Dispatcher
from .rawws import ws_protocol

__all__ = ["PATH", "Gateway"]

PATH = "/websocket"


class Gateway:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.max_frame_bytes = services.settings.max_frame_bytes
        self.dispatcher = Dispatcher(services)
        # For uvicorn.Config(ws=...): /websocket on the raw socket, other paths to uvicorn.
        self.ws_protocol: type[asyncio.Protocol] = ws_protocol(
            self.connection, self.max_frame_bytes, PATH
        )

    def connection(self, socket: FrameSocket) -> Connection:
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
