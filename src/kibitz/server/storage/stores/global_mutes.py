"""The SQL adapter of ``GlobalMuteStore``: one row per muted user."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ...domain.global_mutes import GlobalMute
from ..schema import user_mutes

__all__ = ["SqlGlobalMuteStore"]


class SqlGlobalMuteStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def all(self, app_pk: str) -> list[GlobalMute]:
        m = user_mutes.c
        query = select(m.username, m.chat_until, m.groupchat_until, m.chatroom_until).where(
            m.app_pk == app_pk
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
            return [GlobalMute(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows]

    async def put(self, app_pk: str, user_id: str, mute: GlobalMute) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(user_mutes).where(user_mutes.c.user_id == user_id))
            if mute.chat or mute.groupchat or mute.chatroom:
                await conn.execute(
                    insert(user_mutes).values(
                        user_id=user_id,
                        app_pk=app_pk,
                        username=mute.username,
                        chat_until=mute.chat,
                        groupchat_until=mute.groupchat,
                        chatroom_until=mute.chatroom,
                    )
                )
