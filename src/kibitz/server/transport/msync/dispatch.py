"""One msync frame in → the handler its command's route names (handlers/table.py).

The dispatcher owns the checks every command shares: the frame must decode (else close
with ``Close.BAD_DATA``), its command must have a route (else ``Close.POLICY``) and the
connection must be in that route's state — logged in for everything but PROVISION, not yet
logged in for PROVISION (else ``Close.POLICY``). Nothing a client sends may crash the
server: bad bytes close the connection, a bad but decodable request gets an error reply
from its handler, an unexpected exception closes with ``Close.INTERNAL``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from google.protobuf.unknown_fields import UnknownFieldSet

from kibitz.protocol._msync import FrameError, decode_frame, pb
from kibitz.server.services import Services

from .close import Close
from .connection import Connection, ConnState
from .handlers.context import Context, MetaHandler, Route
from .handlers.provision import closed
from .handlers.table import COMMANDS, METAS
from .statuses import login_status, send_status

__all__ = ["Dispatcher", "login_status", "send_status"]

log = logging.getLogger(__name__)

_COMMAND_FIELD = pb.MSync.COMMAND_FIELD_NUMBER


def _unknown(command: int, frame: pb.MSync) -> bool:
    """proto2 keeps an enum number it does not know aside and reads the default (SYNC):
    tell that apart from a frame that really is a SYNC (or has no command at all)."""
    if command or frame.HasField("command"):
        return False
    unknown = UnknownFieldSet(frame)
    return any(unknown[i].field_number == _COMMAND_FIELD for i in range(len(unknown)))


class Dispatcher:
    """Called by the connection with each frame's bytes; ``closed`` when it has ended."""

    def __init__(
        self,
        services: Services,
        *,
        commands: Mapping[pb.MSync.Command, Route] = COMMANDS,
        metas: Mapping[pb.Meta.NameSpace, MetaHandler] = METAS,
    ) -> None:
        self._s = services
        self._commands = commands
        self._ctx = Context(services, metas)

    async def __call__(self, conn: Connection, data: bytes) -> None:
        try:
            frame = decode_frame(data)
        except FrameError:
            conn.close(Close.BAD_DATA, "not an msync frame", flush=False)
            return
        command = frame.command
        route = self._commands.get(command)
        try:
            if route is None or route.state is not conn.state or _unknown(command, frame):
                first = conn.state is ConnState.CONNECTED
                why = "log in first" if first else "unexpected command"
                conn.close(Close.POLICY, why, flush=False)
                return
            await route.handle(self._ctx, conn, frame)
        except Exception:
            log.exception("msync dispatch failed")
            conn.close(Close.INTERNAL, "internal error", flush=False)

    def closed(self, conn: Connection) -> None:
        """A connection ended: its device stops being tracked unless a newer session on
        the same resource has taken over."""
        closed(self._s, conn)
