"""``kibitz files gc`` and ``kibitz app delete``: files past retention, and an app's
files, leave the store (rows and bytes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from kibitz.server.app import build_services
from kibitz.server.settings import Settings
from kibitz.server.storage.migrate import migrate
from tests.server.transport.rest.support import FakeClock

from .test_cli import kibitz

DAY_S = 86_400


async def one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def seed(data_dir: Path, ages_days: list[float]) -> None:
    """Files uploaded ``ages_days`` ago, into acme#chat."""

    async def run() -> None:
        clock = FakeClock()
        services = build_services(Settings(data_dir=data_dir), clock)
        try:
            await migrate(services.engine)
            app = await services.apps.create("acme", "chat")
            start = clock.now
            for age in ages_days:
                clock.now = start - int(age * DAY_S * 1000)
                await services.files.upload(app, "admin", one(b"bytes"))
        finally:
            await services.engine.dispose()

    anyio.run(run)


def blobs(data_dir: Path) -> int:
    return len([p for p in (data_dir / "files").rglob("*") if p.is_file()])


def test_files_gc_removes_what_is_past_retention(tmp_path: Path) -> None:
    seed(tmp_path, [8, 7.5, 1, 0])
    assert blobs(tmp_path) == 4
    out = kibitz(tmp_path, "files", "gc").stdout
    assert "removed 2 expired files" in out
    assert blobs(tmp_path) == 2
    assert "removed 0 expired files" in kibitz(tmp_path, "files", "gc").stdout


def test_app_delete_removes_its_files(tmp_path: Path) -> None:
    seed(tmp_path, [0, 0, 0])
    assert blobs(tmp_path) == 3
    kibitz(tmp_path, "app", "delete", "acme", "chat")
    assert blobs(tmp_path) == 0
