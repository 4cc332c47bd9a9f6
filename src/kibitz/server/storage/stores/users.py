"""SQL adapter for ``UserStore``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Select

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.domain.models import User

from ..schema import inbox, queues, users

__all__ = ["SqlUserStore", "delete_mailboxes"]


async def delete_mailboxes(conn: AsyncConnection, owners: Sequence[str] | Select[Any]) -> None:
    """The inbox rows and queue heads of these users (no foreign key does it: an owner may
    also be a conversation's key). Their devices and cursors go with the users' rows."""
    for table in (inbox, queues):
        await conn.execute(delete(table).where(table.c.owner.in_(owners)))


def _row_to_user(row: Any) -> User:
    return User(**dict(row._mapping))


def _values(user: User) -> dict[str, Any]:
    return {name: getattr(user, name) for name in User.__slots__}


class SqlUserStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_many(self, new_users: Sequence[User]) -> None:
        if not new_users:
            return
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(users), [_values(u) for u in new_users])
        except IntegrityError as exc:
            raise ChatError(ErrorCode.USER_ALREADY_EXIST, "a username is already taken") from exc

    async def _one(self, *where: Any) -> User | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(users).where(*where))).first()
        return None if row is None else _row_to_user(row)

    async def get(self, app_pk: str, username: str) -> User | None:
        return await self._one(users.c.app_pk == app_pk, users.c.username == username)

    async def get_by_id(self, app_pk: str, user_id: str) -> User | None:
        return await self._one(users.c.app_pk == app_pk, users.c.id == user_id)

    async def existing(self, app_pk: str, usernames: Sequence[str]) -> set[str]:
        if not usernames:
            return set()
        query = select(users.c.username).where(
            users.c.app_pk == app_pk, users.c.username.in_(list(usernames))
        )
        async with self._engine.connect() as conn:
            return {row[0] for row in await conn.execute(query)}

    async def count(self, app_pk: str) -> int:
        query = select(func.count()).select_from(users).where(users.c.app_pk == app_pk)
        async with self._engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def page(self, app_pk: str, limit: int, after: tuple[int, str] | None) -> list[User]:
        query = select(users).where(users.c.app_pk == app_pk)
        if after is not None:
            created, user_id = after
            query = query.where(
                or_(
                    users.c.created_ms > created,
                    and_(users.c.created_ms == created, users.c.id > user_id),
                )
            )
        query = query.order_by(users.c.created_ms, users.c.id).limit(limit)
        async with self._engine.connect() as conn:
            return [_row_to_user(row) for row in await conn.execute(query)]

    async def delete(self, app_pk: str, usernames: Sequence[str]) -> list[User]:
        if not usernames:
            return []
        where = and_(users.c.app_pk == app_pk, users.c.username.in_(list(usernames)))
        async with self._engine.begin() as conn:
            rows = (await conn.execute(select(users).where(where))).all()
            if rows:
                await delete_mailboxes(conn, [row.id for row in rows])
                await conn.execute(delete(users).where(where))
        return [_row_to_user(row) for row in rows]

    async def update(self, user: User) -> None:
        values = _values(user)
        del values["id"], values["app_pk"]
        async with self._engine.begin() as conn:
            await conn.execute(
                update(users)
                .where(users.c.id == user.id, users.c.app_pk == user.app_pk)
                .values(**values)
            )
