"""Fixtures of the reliability lane: one real ``kibitz serve`` per test module (its tests
share it, so what one hostile client leaves behind is what the next one meets), and the
figures the tests recorded, printed at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer

from .figures import FIGURES


@pytest.fixture(scope="module")
def module_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A started server on SQLite in a fresh data dir, stopped after the module. A module
    may set ``SERVER_ENV = {"KIBITZ_…": "…"}`` for settings of its own."""
    env = dict(getattr(request.module, "SERVER_ENV", {}))
    name = request.module.__name__.rsplit(".", 1)[-1]
    server = LiveServer(data_dir=tmp_path_factory.mktemp(name), database_url=None, env=env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, line in FIGURES.items():
        terminalreporter.write_line(f"{name}: {line}")
