"""The group commit on SQLite in one thread hop: a dedicated ``sqlite3`` connection.

Through SQLAlchemy + aiosqlite every statement of a group commit is its own hand-off to the
driver's thread (cursor, execute, close: ~15 per batch), and each hand-off costs a thread
wake-up and a GIL round trip on the server's core. Here the writer hands the whole batch —
device logins, messages, inbox rows, queue heads, cursors, COMMIT — to one thread in one
call. The statements are the SQLAlchemy ones, compiled once to SQLite SQL, so the schema
stays defined in one place. Reads keep using the engine's pool (WAL: they see each commit).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import bindparam, case, delete, func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import BindParameter

from ..engine import SQLITE_PRAGMAS
from ..schema import cursors, devices, inbox, messages, queues

__all__ = ["DeviceLogin", "SqliteBatch", "sqlite_path"]

_DIALECT: Final = sqlite.dialect(paramstyle="named")


def _sql(stmt: ClauseElement) -> str:
    return str(stmt.compile(dialect=_DIALECT))


def _greatest(a: Any, b: Any) -> Any:
    return case((a > b, a), else_=b)


def sqlite_path(url: str | URL) -> str | None:
    """The database file of a file-backed SQLite URL; None for anything else."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


@dataclass(frozen=True, slots=True)
class DeviceLogin:
    owner: str
    resource: str
    now_ms: int


_ins_q = sqlite.insert(queues)
_ins_c = sqlite.insert(cursors)
_owner: BindParameter[str] = bindparam("owner")
_resource: BindParameter[str] = bindparam("resource")

INSERT_MESSAGES: Final = _sql(messages.insert())
INSERT_INBOX: Final = _sql(
    inbox.insert().values(
        owner=bindparam("owner"),
        queue=bindparam("queue"),
        msg_id=bindparam("msg_id"),
        skip_resource=bindparam("skip_resource"),
    )
)
UPSERT_QUEUES: Final = _sql(
    _ins_q.values(
        owner=_owner, queue=bindparam("queue"), last_id=bindparam("last_id")
    ).on_conflict_do_update(
        index_elements=[queues.c.owner, queues.c.queue],
        set_={"last_id": _greatest(_ins_q.excluded.last_id, queues.c.last_id)},
    )
)
UPSERT_CURSORS: Final = _sql(
    _ins_c.values(
        owner=_owner, resource=_resource, queue=bindparam("queue"), acked=bindparam("acked")
    ).on_conflict_do_update(
        index_elements=[cursors.c.owner, cursors.c.resource, cursors.c.queue],
        set_={"acked": _greatest(_ins_c.excluded.acked, cursors.c.acked)},
    )
)
INSERT_DEVICE: Final = _sql(
    sqlite.insert(devices)
    .values(
        owner=_owner,
        resource=_resource,
        created_ms=bindparam("now_ms"),
        last_seen_ms=bindparam("now_ms"),
    )
    .on_conflict_do_nothing()
)
TOUCH_DEVICE: Final = _sql(
    update(devices)
    .where(devices.c.owner == _owner, devices.c.resource == _resource)
    .values(last_seen_ms=bindparam("now_ms"))
)
# A new device starts where the user's most advanced device is.
COPY_CURSORS: Final = _sql(
    cursors.insert().from_select(
        ["owner", "resource", "queue", "acked"],
        select(_owner, _resource, cursors.c.queue, func.max(cursors.c.acked))
        .where(cursors.c.owner == _owner, cursors.c.resource != _resource)
        .group_by(cursors.c.queue),
    )
)
COUNT_DEVICES: Final = _sql(
    select(func.count()).select_from(devices).where(devices.c.owner == _owner)
)


def _drop_stale() -> tuple[str, dict[str, Any]]:
    """Forget all but the ``:keep`` most recently seen devices of ``:owner``; the SQL and the
    value of its LIMIT parameter."""
    stale = (
        select(devices.c.resource)
        .where(devices.c.owner == _owner)
        .order_by(devices.c.last_seen_ms.desc(), devices.c.resource)
        .offset(bindparam("keep"))
    )
    stmt = delete(devices).where(devices.c.owner == _owner, devices.c.resource.in_(stale))
    compiled = stmt.compile(dialect=_DIALECT)
    fixed = {k: v for k, v in compiled.params.items() if k not in ("owner", "keep")}
    return str(compiled), fixed


DROP_STALE, _DROP_FIXED = _drop_stale()


class SqliteBatch:
    """One connection, one thread; ``commit`` runs a whole batch there in one call."""

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

    async def commit(
        self,
        logins: Sequence[DeviceLogin],
        messages_rows: Sequence[dict[str, Any]],
        inbox_rows: Sequence[dict[str, Any]],
        queue_rows: Sequence[dict[str, Any]],
        cursor_rows: Sequence[dict[str, Any]],
        keep_devices: int,
    ) -> list[tuple[bool, int]]:
        """Write it all in one transaction; per login (new device?, devices of its user)."""
        if self._thread is None:  # opened on first use, again after aclose()
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="kibitz-writer")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._thread,
            self._commit,
            logins,
            messages_rows,
            inbox_rows,
            queue_rows,
            cursor_rows,
            keep_devices,
        )

    def _commit(
        self,
        logins: Sequence[DeviceLogin],
        messages_rows: Sequence[dict[str, Any]],
        inbox_rows: Sequence[dict[str, Any]],
        queue_rows: Sequence[dict[str, Any]],
        cursor_rows: Sequence[dict[str, Any]],
        keep_devices: int,
    ) -> list[tuple[bool, int]]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            registered = [self._login(conn, login, keep_devices) for login in logins]
            if messages_rows:
                conn.executemany(INSERT_MESSAGES, messages_rows)
            if inbox_rows:
                conn.executemany(INSERT_INBOX, inbox_rows)
            if queue_rows:
                conn.executemany(UPSERT_QUEUES, queue_rows)
            if cursor_rows:
                conn.executemany(UPSERT_CURSORS, cursor_rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return registered

    def _login(self, conn: sqlite3.Connection, login: DeviceLogin, keep: int) -> tuple[bool, int]:
        params = {"owner": login.owner, "resource": login.resource, "now_ms": login.now_ms}
        new = conn.execute(INSERT_DEVICE, params).rowcount == 1
        if new:
            conn.execute(COPY_CURSORS, params)
            conn.execute(DROP_STALE, {**params, **_DROP_FIXED, "keep": keep})
        else:
            conn.execute(TOUCH_DEVICE, params)
        count = conn.execute(COUNT_DEVICES, params).fetchone()[0]
        return new, int(count)

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
