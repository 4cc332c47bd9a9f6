"""STATISTIC metas up: the SDK's login statistics. Nothing is kept and no reply is wanted."""

from __future__ import annotations

from kibitz.protocol._msync import pb

from ..connection import Connection
from .context import Context

__all__ = ["statistic"]


async def statistic(ctx: Context, conn: Connection, meta: pb.Meta) -> None:
    return None
