"""SQL adapter for ``UserAttributeStore``: one row per user, its attributes as a JSON
object and their size, so a merge is a read and a write in one transaction and an app's
capacity one SUM."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.selectable import ScalarSelect

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.domain.user_attributes import attributes_size

from ..schema import user_attributes, users

__all__ = ["SqlUserAttributeStore"]


def _dump(values: Mapping[str, str]) -> str:
    return json.dumps(dict(values), ensure_ascii=False, separators=(",", ":"))


def _user_id(app_pk: str, username: str) -> ScalarSelect[Any]:
    return (
        select(users.c.id)
        .where(users.c.app_pk == app_pk, users.c.username == username)
        .scalar_subquery()
    )


class SqlUserAttributeStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def merge(
        self, app_pk: str, username: str, values: Mapping[str, str], max_bytes: int
    ) -> dict[str, str] | None:
        async with self._engine.begin() as conn:
            user_id = await conn.scalar(
                select(users.c.id).where(users.c.app_pk == app_pk, users.c.username == username)
            )
            if user_id is None:
                raise ChatError(ErrorCode.USER_NOT_FOUND, f"username {username} doesn't exist")
            # FOR UPDATE (ignored by SQLite, whose writers are serial): two merges of one
            # user's attributes do not lose each other's keys.
            row = (
                await conn.execute(
                    select(user_attributes.c.data)
                    .where(user_attributes.c.user_id == user_id)
                    .with_for_update()
                )
            ).first()
            merged = {**(json.loads(row.data) if row else {}), **values}
            size = attributes_size(merged)
            if size > max_bytes:
                return None
            if row is None:
                await conn.execute(
                    insert(user_attributes).values(
                        user_id=user_id, app_pk=app_pk, data=_dump(merged), size=size
                    )
                )
            else:
                await conn.execute(
                    update(user_attributes)
                    .where(user_attributes.c.user_id == user_id)
                    .values(data=_dump(merged), size=size)
                )
            return merged

    async def fetch(self, app_pk: str, usernames: Sequence[str]) -> dict[str, dict[str, str]]:
        if not usernames:
            return {}
        query = (
            select(users.c.username, user_attributes.c.data)
            .join(user_attributes, user_attributes.c.user_id == users.c.id)
            .where(users.c.app_pk == app_pk, users.c.username.in_(list(usernames)))
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.username: json.loads(row.data) for row in rows}

    async def delete(self, app_pk: str, username: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(user_attributes).where(
                    user_attributes.c.user_id == _user_id(app_pk, username)
                )
            )
        return bool(result.rowcount)

    async def capacity(self, app_pk: str) -> int:
        query = select(func.coalesce(func.sum(user_attributes.c.size), 0)).where(
            user_attributes.c.app_pk == app_pk
        )
        async with self._engine.connect() as conn:
            return int(await conn.scalar(query) or 0)
