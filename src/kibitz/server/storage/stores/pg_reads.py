"""The hot reads (a pull, an UNREAD summary, a login's cursors) on PostgreSQL, through an
asyncpg pool with their statements compiled once.

On one node most pulls are answered from memory (``message_cache``); a cluster has no such
cache (other nodes write the same inboxes), so every delivery is two reads (the batch, and
the empty pull that acknowledges it). Through SQLAlchemy each costs a pool checkout, a
greenlet hop and result wrapping — more Python than the query itself on a slow core.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import URL
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["PgReads", "asyncpg_dsn", "compile_for_asyncpg"]


def asyncpg_dsn(url: URL) -> str:
    """The engine's URL as a plain ``postgresql://`` DSN for asyncpg."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def compile_for_asyncpg(stmt: ClauseElement) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """A statement compiled once to PostgreSQL SQL: its text, its bind names in ``$n``
    order, and the values of the binds it carries itself (literals such as the 0 of a
    coalesce)."""
    compiled = cast(SQLCompiler, stmt.compile(dialect=_DIALECT))
    names = tuple(dict.fromkeys(compiled.positiontup or ()))
    fixed = {n: b.value for n, b in compiled.binds.items() if n in names and not b.required}
    return str(compiled), names, fixed


_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


class PgReads:
    def __init__(
        self, url: URL, statements: Mapping[str, ClauseElement], max_size: int = 8
    ) -> None:
        self._dsn = asyncpg_dsn(url)
        self._sql = {name: compile_for_asyncpg(stmt) for name, stmt in statements.items()}
        self._pool: Any = None
        self._max_size = max_size

    async def start(self) -> None:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=1, max_size=self._max_size, timeout=30, command_timeout=30
            )

    async def fetch(self, name: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        sql, names, fixed = self._sql[name]
        assert self._pool is not None, "PgReads.start() first"
        args = [params[n] if n in params else fixed[n] for n in names]
        rows = await self._pool.fetch(sql, *args)
        return [tuple(r) for r in rows]

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
