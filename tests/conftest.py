"""Shared fixtures: settings on SQLite (and PostgreSQL when configured), an in-process app
with its lifespan running, and a real ``kibitz serve`` subprocess on a free port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from kibitz.server.app import create_app
from kibitz.server.domain.models import App
from kibitz.server.services import Services
from kibitz.server.settings import Settings

PG_URL = os.environ.get("KIBITZ_TEST_DATABASE_URL")
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 64, "argon2_parallelism": 1}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("KIBITZ_") and not key.startswith("KIBITZ_TEST_"):
            monkeypatch.delenv(key)


def _reset_postgres(url: str) -> None:
    """Give each test an empty PostgreSQL schema (the CI database is ours alone)."""
    import asyncio

    import asyncpg

    async def reset() -> None:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    asyncio.run(reset())


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage-touching test runs on SQLite, and on PostgreSQL when it is configured."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kibitz.db'}"
    if not PG_URL:
        pytest.skip("PostgreSQL not configured (set KIBITZ_TEST_DATABASE_URL; .ci/run does)")
    _reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def settings_factory(tmp_path: Path, database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path,
            "database_url": database_url,
            **CHEAP_ARGON2,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@dataclass
class AppHarness:
    """An in-process kibitz with its lifespan running, and an HTTP client onto it."""

    asgi: Any
    services: Services
    http: httpx.AsyncClient
    app: App  # a fresh tenant, "acme#chat"

    @property
    def base(self) -> str:
        return f"/{self.app.org_name}/{self.app.app_name}"

    def app_token(self) -> str:
        return self.services.auth.issue_app_token(self.app).access_token

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.app_token()}"}


@pytest.fixture
async def harness_factory(
    settings_factory: Callable[..., Settings],
) -> AsyncIterator[Callable[..., Any]]:
    stack: list[Any] = []

    async def make(clock: Any = None, **overrides: Any) -> AppHarness:
        asgi = create_app(settings_factory(**overrides), clock=clock)
        lifespan = asgi.router.lifespan_context(asgi)
        await lifespan.__aenter__()
        stack.append(lifespan)
        services: Services = asgi.state.services
        app = await services.apps.create("acme", "chat")
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=asgi), base_url="http://kibitz.test"
        )
        stack.append(http)
        return AppHarness(asgi=asgi, services=services, http=http, app=app)

    yield make
    for item in reversed(stack):
        if isinstance(item, httpx.AsyncClient):
            await item.aclose()
        else:
            await item.__aexit__(None, None, None)


@pytest.fixture
async def harness(harness_factory: Callable[..., Any]) -> AppHarness:
    h: AppHarness = await harness_factory()
    return h


# -- a real server process ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """``kibitz serve`` in a subprocess; ``restart()`` keeps the data and the port."""

    data_dir: Path
    database_url: str | None
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/websocket"

    def _cli(self, *args: str) -> str:
        cmd = [sys.executable, "-m", "kibitz", *args, "--data-dir", str(self.data_dir)]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        out = subprocess.run(
            cmd, check=True, capture_output=True, timeout=60, env=self._env()
        ).stdout
        return out.decode().strip()

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIBITZ_")}
        env.update({f"KIBITZ_{k.upper()}": str(v) for k, v in CHEAP_ARGON2.items()})
        env.update(self.env)
        return env

    def create_app(self, org: str = "acme", app: str = "chat", **opts: str) -> dict[str, str]:
        extra = [x for k, v in opts.items() for x in (f"--{k.replace('_', '-')}", v)]
        created: dict[str, str] = json.loads(self._cli("app", "create", org, app, *extra, "--json"))
        return created

    def start(self) -> None:
        assert self.proc is None
        self.log_path = self.data_dir / f"server-{self.port}.log"
        cmd = [sys.executable, "-m", "kibitz", "serve", "--port", str(self.port)]
        cmd += ["--data-dir", str(self.data_dir)]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the fd
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self._env())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kibitz serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.rest}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # polling a starting process; bounded by the deadline
        raise RuntimeError("kibitz serve did not become healthy within 30 s")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def live_server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Real servers on SQLite (the database_url param is not used: one backend is enough
    for process-level tests; storage tests cover PostgreSQL)."""
    servers: list[LiveServer] = []

    def make(**env: str) -> LiveServer:
        server = LiveServer(data_dir=tmp_path / f"srv{len(servers)}", database_url=None, env=env)
        server.data_dir.mkdir(parents=True, exist_ok=True)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def live_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    server = live_server_factory()
    server.start()
    return server
