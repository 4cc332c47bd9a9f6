"""URL → AsyncEngine, with the SQLite pragmas kibitz relies on (WAL, busy timeout, FKs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["SQLITE_PRAGMAS", "create_engine", "is_sqlite"]

# Every SQLite connection kibitz opens; synchronous=FULL because an acknowledged message
# must survive a power cut, not only a crash.
SQLITE_PRAGMAS: Final = (
    "journal_mode=WAL",
    "synchronous=FULL",
    "busy_timeout=30000",
    "foreign_keys=ON",
)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(url: str, pool_size: int = 8) -> AsyncEngine:
    """Build the engine; for SQLite, create the parent folder and set the pragmas.
    ``pool_size``: PostgreSQL connections kept (as many again in bursts)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, connect_args={"timeout": 30}, pool_size=8, max_overflow=0, pool_timeout=30
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        return engine
    # No pre-ping: it doubles the round trips of every read (a pull is one query). A
    # connection that died with the server fails once; SQLAlchemy then drops the pool.
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=3600, pool_timeout=30
    )
