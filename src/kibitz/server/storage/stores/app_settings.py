"""The SQL adapter of ``AppSettingsStore``: one row per overridden setting, JSON values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ..schema import app_settings

__all__ = ["SqlAppSettingsStore"]


class SqlAppSettingsStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def load(self, app_pk: str) -> dict[str, Any]:
        query = select(app_settings.c.name, app_settings.c.value).where(
            app_settings.c.app_pk == app_pk
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
            return {row.name: json.loads(row.value) for row in rows}

    async def save(self, app_pk: str, values: Mapping[str, int | bool]) -> None:
        # Delete-then-insert in one transaction: the same statements on SQLite and
        # PostgreSQL, and a reader sees the old values or the new, never a mix.
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(app_settings).where(
                    app_settings.c.app_pk == app_pk, app_settings.c.name.in_(list(values))
                )
            )
            await conn.execute(
                insert(app_settings),
                [
                    {"app_pk": app_pk, "name": name, "value": json.dumps(value)}
                    for name, value in values.items()
                ],
            )
