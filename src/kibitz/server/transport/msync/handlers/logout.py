"""LOGOUT: the client is leaving; what is queued for it is sent, then the socket closes
(the device is released by ``provision.closed`` when the connection ends)."""

from __future__ import annotations

from kibitz.protocol._msync import pb

from ..close import Close
from ..connection import Connection
from .context import Context

__all__ = ["logout"]


async def logout(ctx: Context, conn: Connection, frame: pb.MSync) -> None:
    conn.close(Close.NORMAL, "logged out")
