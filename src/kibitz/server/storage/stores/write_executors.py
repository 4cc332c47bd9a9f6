"""The two ways to run a group-commit ``transaction`` (``write_batch``) against a database.

- ``SqliteFileExecutor``: a SQLite file. Through SQLAlchemy + aiosqlite every statement is
  its own hand-off to the driver's thread (cursor, execute, close: ~15 per batch), and each
  costs a thread wake-up and a GIL round trip on the server's core. Here the whole batch —
  BEGIN IMMEDIATE, every step, COMMIT — runs on one dedicated ``sqlite3`` connection in one
  ``run_in_executor`` call, with the statements compiled once to SQLite SQL. Reads keep
  using the engine's pool (WAL: they see each commit).
- ``PostgresExecutor``: PostgreSQL. Through SQLAlchemy each statement costs ~0.3 ms of
  Python (compile cache lookup, greenlet hop, result wrapping) on a slow core, and a commit
  is 6-8 statements; here one dedicated asyncpg connection runs the statements compiled
  once to PostgreSQL SQL, rows of a step in one pipelined ``executemany``.
- ``EngineExecutor``: anything else (in-memory SQLite): the steps run on an
  ``AsyncConnection`` of the engine, one transaction per batch.

Both advance the transaction to its first statement before touching the database: outside
shared mode that is where the batch's ids are assigned and its Meta encoded, on the event
loop's thread, as before the hop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Protocol, cast

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from ..engine import SQLITE_PRAGMAS
from .pg_reads import asyncpg_dsn, compile_for_asyncpg
from .write_batch import STATEMENTS, Sql, Step, Transaction, Want, Written

__all__ = [
    "EngineExecutor",
    "Executor",
    "PostgresExecutor",
    "SqliteFileExecutor",
    "executor_for",
    "sqlite_path",
]

_DIALECT: Final = sqlite.dialect(paramstyle="named")


class Executor(Protocol):
    async def run(self, tx: Transaction) -> Written:
        """Run every step in one transaction and commit; roll back and raise on failure."""
        ...

    async def aclose(self) -> None: ...


def sqlite_path(url: str | URL) -> str | None:
    """The database file of a file-backed SQLite URL; None for anything else."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def executor_for(engine: AsyncEngine, *, direct: bool = True) -> Executor:
    if direct and engine.dialect.name == "postgresql":
        return PostgresExecutor(engine.url)
    path = sqlite_path(engine.url) if direct else None
    return SqliteFileExecutor(path) if path is not None else EngineExecutor(engine)


def _compile_sqlite() -> dict[Sql, tuple[str, dict[str, Any]]]:
    """SQL text per statement, and the values of the binds it carries itself (the
    ``LIMIT -1`` SQLite needs before an OFFSET)."""
    out = {}
    for sql, stmt in STATEMENTS["sqlite"].items():
        compiled = cast(SQLCompiler, cast(ClauseElement, stmt).compile(dialect=_DIALECT))
        text = str(compiled)
        fixed = {
            name: b.value
            for name, b in compiled.binds.items()
            if not b.required and f":{name}" in text
        }
        out[sql] = (text, fixed)
    return out


_SQLITE: Final = _compile_sqlite()


class SqliteFileExecutor:
    """One connection, one thread; ``run`` executes a whole transaction there in one call."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._thread: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            for pragma in SQLITE_PRAGMAS:
                conn.execute(f"PRAGMA {pragma}")
            self._conn = conn
        return self._conn

    async def run(self, tx: Transaction) -> Written:
        try:
            first = next(tx)
        except StopIteration as stop:
            written: Written = stop.value
            return written
        if self._thread is None:  # opened on first use, again after aclose()
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="kibitz-writer")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._run, tx, first)

    def _run(self, tx: Transaction, step: Step) -> Written:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            written = _drive(conn, tx, step)
            conn.execute("COMMIT")
        except BaseException:
            tx.close()
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return written

    async def aclose(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return

        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(thread, close)
        thread.shutdown(wait=True)


def _drive(conn: sqlite3.Connection, tx: Transaction, step: Step) -> Written:
    while True:
        sql, fixed = _SQLITE[step.sql]
        params = step.params
        if isinstance(params, list):
            cursor = conn.executemany(sql, [{**fixed, **p} for p in params] if fixed else params)
        else:
            cursor = conn.execute(sql, {**fixed, **params} if fixed else params)
        result: Any = None
        if step.want is Want.ROWCOUNT:
            result = cursor.rowcount
        elif step.want is Want.SCALAR:
            row = cursor.fetchone()
            result = None if row is None else row[0]
        try:
            step = tx.send(result)
        except StopIteration as stop:
            written: Written = stop.value
            return written


async def _drive_async(
    tx: Transaction, step: Step, execute: Callable[[Step], Awaitable[Any]]
) -> Written:
    """Feed each step's result back into the transaction until it returns what it wrote;
    the transaction is closed whatever happens (the caller's ``with`` rolls back)."""
    try:
        while True:
            value = await execute(step)
            try:
                step = tx.send(value)
            except StopIteration as stop:
                written: Written = stop.value
                return written
    finally:
        tx.close()


def _compile_postgres() -> dict[Sql, tuple[str, tuple[str, ...]]]:
    """SQL text per statement, and the bind names in ``$n`` order (the writer's
    statements carry no literal binds of their own)."""
    out = {}
    for sql, stmt in STATEMENTS["postgresql"].items():
        text, names, fixed = compile_for_asyncpg(cast(ClauseElement, stmt))
        assert not fixed, f"{sql}: literal binds are not passed by PostgresExecutor"
        out[sql] = (text, names)
    return out


_POSTGRES: Final = _compile_postgres()


class PostgresExecutor:
    """One asyncpg connection, owned by the writer (its only user); reopened if lost."""

    def __init__(self, url: URL) -> None:
        self._dsn = asyncpg_dsn(url)
        self._conn: asyncpg.Connection | None = None

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._dsn, timeout=30)
        return self._conn

    async def run(self, tx: Transaction) -> Written:
        try:
            step = next(tx)
        except StopIteration as stop:
            written: Written = stop.value
            return written
        try:
            conn = await self._connection()
        except BaseException:
            tx.close()
            raise

        async def execute(step: Step) -> Any:
            sql, names = _POSTGRES[step.sql]
            params = step.params
            if isinstance(params, list):
                await conn.executemany(sql, [tuple(p[n] for n in names) for p in params])
                return None
            if step.want is Want.SCALAR:
                return await conn.fetchval(sql, *(params[n] for n in names))
            status = await conn.execute(sql, *(params[n] for n in names))
            return int(status.rsplit(" ", 1)[-1]) if step.want is Want.ROWCOUNT else None

        async with conn.transaction():
            return await _drive_async(tx, step, execute)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            await conn.close(timeout=5)


class EngineExecutor:
    """The steps as SQLAlchemy statements on one ``AsyncConnection`` per batch."""

    def __init__(self, engine: AsyncEngine) -> None:
        if engine.dialect.name not in STATEMENTS:
            raise ValueError(f"no message store for {engine.dialect.name!r}")
        self._engine = engine
        self._statements = STATEMENTS[engine.dialect.name]

    async def run(self, tx: Transaction) -> Written:
        try:
            step = next(tx)
        except StopIteration as stop:
            written: Written = stop.value
            return written
        try:
            async with self._engine.begin() as conn:

                async def execute(step: Step) -> Any:
                    result = await conn.execute(self._statements[step.sql], step.params)
                    if step.want is Want.ROWCOUNT:
                        return result.rowcount
                    return result.scalar() if step.want is Want.SCALAR else None

                return await _drive_async(tx, step, execute)
        finally:
            tx.close()

    async def aclose(self) -> None:
        return None
