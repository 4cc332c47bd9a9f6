"""The SQL adapter of ``FileMetaStore``: one ``files`` row per attachment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kibitz.server.domain.file_models import FileRecord

from ..schema import files

__all__ = ["SqlFileMetaStore"]

_FIELDS = tuple(f.name for f in fields(FileRecord))


def _record(row: Any) -> FileRecord:
    values = row._mapping
    return FileRecord(**{name: values[name] for name in _FIELDS})


class SqlFileMetaStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, record: FileRecord) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(files).values(**asdict(record)))

    async def get(self, app_pk: str, uuid: str) -> FileRecord | None:
        query = select(files).where(files.c.app_pk == app_pk, files.c.uuid == uuid)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _record(row)

    async def set_thumbnail(self, app_pk: str, uuid: str, key: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(files)
                .where(files.c.app_pk == app_pk, files.c.uuid == uuid)
                .values(thumbnail=key)
            )

    async def replace(self, record: FileRecord) -> bool:
        values = asdict(record)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(files)
                .where(files.c.app_pk == record.app_pk, files.c.uuid == record.uuid)
                .values(**values)
            )
        return bool(result.rowcount)

    async def delete(self, app_pk: str, uuid: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(files).where(files.c.app_pk == app_pk, files.c.uuid == uuid)
            )
        return bool(result.rowcount)

    async def created_before(self, app_pk: str, before_ms: int, limit: int) -> Sequence[FileRecord]:
        query = (
            select(files)
            .where(files.c.app_pk == app_pk, files.c.created_ms < before_ms)
            .order_by(files.c.created_ms, files.c.uuid)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [_record(row) for row in await conn.execute(query)]

    async def of_group(
        self, app_pk: str, group_id: str, offset: int, limit: int
    ) -> Sequence[FileRecord]:
        query = (
            select(files)
            .where(files.c.app_pk == app_pk, files.c.group_id == group_id)
            .order_by(files.c.created_ms, files.c.uuid)
            .offset(offset)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [_record(row) for row in await conn.execute(query)]

    async def app_pks(self) -> Sequence[str]:
        query = select(files.c.app_pk).distinct()
        async with self._engine.connect() as conn:
            return [row.app_pk for row in await conn.execute(query)]
