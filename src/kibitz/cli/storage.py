"""What the commands that work on storage directly share: the ``--data-dir`` and
``--database-url`` options, the settings they make, and running an action on the services
(migrated first) with a ``ChatError`` turned into the command's error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import click

from kibitz.protocol import ChatError
from kibitz.server.app import build_services
from kibitz.server.settings import Settings
from kibitz.server.storage.migrate import migrate

__all__ = ["run", "settings_from", "storage_options"]


def settings_from(data_dir: Path | None, database_url: str | None, **extra: Any) -> Settings:
    overrides: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    return Settings(**overrides)


def storage_options(fn: Any) -> Any:
    fn = click.option(
        "--database-url", envvar="KIBITZ_DATABASE_URL", help="postgresql://… or sqlite:///…"
    )(fn)
    fn = click.option(
        "--data-dir",
        envvar="KIBITZ_DATA_DIR",
        type=click.Path(file_okay=False, path_type=Path),
        help="Folder for the SQLite database (default ./var).",
    )(fn)
    return fn


async def _with_services(settings: Settings, action: Any) -> Any:
    services = build_services(settings)
    try:
        await migrate(services.engine)
        return await action(services)
    finally:
        await services.engine.dispose()


def run(settings: Settings, action: Any) -> Any:
    """``await action(services)`` on storage; a ChatError becomes the command's error."""
    try:
        return anyio.run(_with_services, settings, action)
    except ChatError as exc:
        raise click.ClickException(exc.description) from exc
