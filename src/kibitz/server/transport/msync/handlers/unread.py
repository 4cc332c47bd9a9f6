"""UNREAD: the per-queue summary of what waits. It is also the SDK's heartbeat, so it is
always answered — empty if the summary fails — or the SDK would reconnect."""

from __future__ import annotations

import logging

from kibitz.protocol._msync import pb

from ..connection import Connection
from ..frames import unread_frame
from .context import Context

__all__ = ["unread"]

log = logging.getLogger(__name__)


async def unread(ctx: Context, conn: Connection, frame: pb.MSync) -> None:
    s = ctx.services
    login = conn.login
    assert login is not None
    try:
        counts = await s.sync.unread(login.user.id, login.resource)
        pending = [(c.queue, c.count) for c in counts]
    except Exception:
        log.exception("unread summary failed; answering the heartbeat empty")
        pending = []
    conn.send(unread_frame(login.app.app_key, pending, s.clock.now_ms()))
