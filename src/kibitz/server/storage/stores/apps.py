"""SQL adapter for ``AppStore``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from kibitz.server.domain.group_models import GROUP_KEY_PREFIX
from kibitz.server.domain.models import App

from ..schema import apps, groups, users
from .users import delete_mailboxes

__all__ = ["SqlAppStore"]


def _row_to_app(row: Any) -> App:
    return App(**dict(row._mapping))


class SqlAppStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, app: App) -> None:
        values = {name: getattr(app, name) for name in App.__slots__}
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(apps).values(**values))
        except IntegrityError as exc:
            raise ValueError(f"app {app.app_key} already exists") from exc

    async def _one(self, *where: Any) -> App | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(apps).where(*where))).first()
        return None if row is None else _row_to_app(row)

    async def get_by_name(self, org_name: str, app_name: str) -> App | None:
        return await self._one(apps.c.org_name == org_name, apps.c.app_name == app_name)

    async def get_by_app_id(self, app_id: str) -> App | None:
        return await self._one(apps.c.app_id == app_id)

    async def all_apps(self) -> list[App]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(apps).order_by(apps.c.created_ms, apps.c.id))
            return [_row_to_app(row) for row in rows]

    async def set_disabled(self, app_pk: str, disabled: bool) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(apps).where(apps.c.id == app_pk).values(disabled=disabled)
            )
        return bool(result.rowcount)

    async def delete(self, app_pk: str) -> bool:
        async with self._engine.begin() as conn:
            await delete_mailboxes(conn, select(users.c.id).where(users.c.app_pk == app_pk))
            # Its groups' rows belong to no user (owner g:{id}): gone with them. The groups
            # themselves, their members and lists go by cascade; their cursors with the
            # users' devices.
            keys = select(literal(GROUP_KEY_PREFIX) + groups.c.id).where(groups.c.app_pk == app_pk)
            await delete_mailboxes(conn, keys)
            result = await conn.execute(delete(apps).where(apps.c.id == app_pk))
        return bool(result.rowcount)
