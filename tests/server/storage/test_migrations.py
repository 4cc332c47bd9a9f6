"""The Alembic migrations build exactly the schema that ``schema.py`` declares."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from kibitz.server.settings import Settings
from kibitz.server.storage.engine import create_engine
from kibitz.server.storage.migrate import migrate
from kibitz.server.storage.schema import metadata

pytestmark = pytest.mark.anyio


async def test_migrated_database_matches_declared_schema(
    settings_factory: Callable[..., Settings],
) -> None:
    engine = create_engine(settings_factory().resolved_database_url())
    try:
        await migrate(engine)
        await migrate(engine)  # idempotent: a second start changes nothing

        def diff(conn: Connection) -> list[object]:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, metadata))

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()
