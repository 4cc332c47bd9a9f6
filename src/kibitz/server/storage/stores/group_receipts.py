"""The SQL adapter of ``ReceiptStore``: group read receipts, and the message they are about."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ...domain.group_receipts import SentMessage
from ..schema import group_read_acks, messages

__all__ = ["SqlReceiptStore"]


class SqlReceiptStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def message(self, app_pk: str, message_id: int) -> SentMessage | None:
        m = messages.c
        query = select(m.chat_type, m.sender, m.recipient, m.meta).where(
            m.id == message_id, m.app_pk == app_pk
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return SentMessage(row.chat_type, row.sender, row.recipient, bytes(row.meta))

    async def add_read(
        self, group_id: str, message_id: int, username: str, read_ms: int, expired_below: int
    ) -> tuple[bool, int]:
        a = group_read_acks.c
        new = True
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(group_read_acks).values(
                        group_id=group_id, msg_id=message_id, username=username, read_ms=read_ms
                    )
                )
        except IntegrityError:
            new = False  # this reader said so before
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(group_read_acks).where(a.group_id == group_id, a.msg_id < expired_below)
            )
            count = await conn.scalar(
                select(func.count()).where(a.group_id == group_id, a.msg_id == message_id)
            )
        return new, int(count or 0)

    async def readers(
        self, group_id: str, message_id: int, limit: int, after: str | None
    ) -> tuple[list[str], int]:
        a = group_read_acks.c
        mine = (a.group_id == group_id, a.msg_id == message_id)
        query = select(a.username).where(*mine).order_by(a.username).limit(limit)
        if after is not None:
            query = query.where(a.username > after)
        async with self._engine.connect() as conn:
            names = [row.username for row in await conn.execute(query)]
            total = await conn.scalar(select(func.count()).where(*mine))
        return names, int(total or 0)
