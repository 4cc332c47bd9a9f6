"""The server under test: a fresh local ``kibitz serve`` (pinned, watched) or a remote one.

Also the REST side of the setup: an app token, users registered in batches, and SDK login
tokens — minted locally from the app certificate when we have it (no password hashing on
the server, as an SDK app with a token service would do), else fetched with passwords.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .config import BenchConfig
from .placement import node_urls

__all__ = [
    "ClusterNode",
    "Endpoint",
    "LocalServer",
    "Mark",
    "ServerMonitor",
    "app_token",
    "free_port",
    "register_users",
]

_BATCH = 60  # Agora's limit for one registration request
_TOKEN_TTL_S = 86_400


@dataclass
class Endpoint:
    rest: str
    ws: str
    org: str
    app: str
    client_id: str
    client_secret: str
    app_id: str | None = None
    app_certificate: str | None = None

    @property
    def app_key(self) -> str:
        return f"{self.org}#{self.app}"

    @classmethod
    def remote(cls, cfg: BenchConfig) -> list[Endpoint]:
        """One endpoint per ``--rest-server`` (same app: the nodes share one database)."""
        if not (cfg.rest_servers and cfg.app_key and cfg.client_id and cfg.client_secret):
            raise ValueError(
                "a remote target needs --rest-server, --app-key, --client-id and --client-secret"
            )
        org, _, app = cfg.app_key.partition("#")
        secrets = (cfg.client_id, cfg.client_secret, cfg.app_id, cfg.app_certificate)
        urls = node_urls(cfg.rest_servers, cfg.im_servers)
        return [cls(rest, ws, org, app, *secrets) for rest, ws in urls]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class ClusterNode:
    """What makes a local server a node of a cluster (``kibitz serve --redis-url``)."""

    index: int
    redis_url: str
    redis_prefix: str


class LocalServer:
    """``kibitz serve`` on a free port, in a fresh data dir, optionally under ``taskset``.

    Alone (``node`` None) it is today's single server; as a ``ClusterNode`` it joins the
    other nodes' database and Redis, logs to ``node<i>.log`` in a data dir it shares.
    """

    def __init__(
        self,
        cfg: BenchConfig,
        run_tag: str,
        node: ClusterNode | None = None,
        data_dir: Path | None = None,
        cpu: int | None = None,
        port: int | None = None,
    ) -> None:
        self.cfg = cfg
        self.run_tag = run_tag
        self.node = node
        self._owns_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="kibitz-bench-"))
        self.cpu = cfg.server_cpu if node is None else cpu
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        name = "server.log" if node is None else f"node{node.index}.log"
        self.log_path = self.data_dir / name

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _cli(self) -> list[str]:
        return [sys.executable, "-m", "kibitz"]

    def _storage(self) -> list[str]:
        args = ["--data-dir", str(self.data_dir)]
        if self.cfg.database_url:
            args += ["--database-url", self.cfg.database_url]
        return args

    def _env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("KIBITZ_DATA_DIR", "KIBITZ_DATABASE_URL")
        }
        env.update(self.cfg.server_env)
        if self.node is not None:
            env["KIBITZ_REDIS_PREFIX"] = self.node.redis_prefix
            env["KIBITZ_PUBLIC_URL"] = self.rest
        return env

    def create_app(self) -> dict[str, str]:
        """``kibitz app create bench run<tag>``: migrates the database first (an empty one
        gets its tables here), then prints the app's credentials. The app's REST rate is
        raised past anything the generator offers (Agora's 100 calls/s per route would
        throttle the REST fan-out, which measures the server, not the limit)."""
        app = f"run{self.run_tag}"
        out = self._run_cli(["app", "create", "bench", app, "--json"])
        self._run_cli(["app", "settings", "bench", app, "rest_rate_per_s=1000000"])
        return dict(json.loads(out))

    def _run_cli(self, args: list[str]) -> bytes:
        return subprocess.run(
            [*self._cli(), *args, *self._storage()],
            check=True,
            capture_output=True,
            timeout=120,
            env=self._env(),
        ).stdout

    def launch(self) -> None:
        cmd = [*self._cli(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += self._storage()
        if self.node is not None:
            cmd += ["--redis-url", self.node.redis_url, "--public-url", self.rest]
        if self.cpu is not None:
            if shutil.which("taskset") is None:
                raise RuntimeError("--server-cpu needs taskset (util-linux)")
            cmd = ["taskset", "-c", str(self.cpu), *cmd]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self._env())
        log.close()

    def wait_healthy(self, limit_s: float = 60.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kibitz serve exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.rest}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # a starting process; bounded by the deadline
        raise RuntimeError(f"kibitz serve not healthy within {limit_s:.0f} s:\n{self.log_tail()}")

    def endpoint(self, creds: dict[str, str]) -> Endpoint:
        return Endpoint(
            self.rest,
            f"ws://127.0.0.1:{self.port}/websocket",
            creds["org_name"],
            creds["app_name"],
            creds["client_id"],
            creds["client_secret"],
            creds["app_id"],
            creds["app_certificate"],
        )

    def start(self) -> Endpoint:
        creds = self.create_app()
        self.launch()
        self.wait_healthy()
        return self.endpoint(creds)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None
        if self._owns_dir and not self.cfg.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _cpu_busy_s() -> dict[str, float]:
    """Busy seconds per CPU (``cpu``, ``cpu0``, …) from /proc/stat; empty elsewhere."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for line in lines:
        if not line.startswith("cpu"):
            break
        name, *fields = line.split()
        v = [int(x) for x in fields[:8]]
        out[name] = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tick  # all but idle, iowait
    return out


@dataclass(frozen=True)
class Mark:
    wall: float
    server_cpu_s: float | None
    busy: dict[str, float]


class ServerMonitor:
    """CPU and RSS of the local server process (psutil), and how busy its core was.

    On a shared machine other processes may run on the server's core despite the pinning;
    ``other_load_pct`` (core busy minus server) says how much, so a reader can discount a run.
    """

    def __init__(self, pid: int | None, server_cpu: int | None = None) -> None:
        self.missing = ""
        self._proc: Any = None
        self._core = f"cpu{server_cpu}" if server_cpu is not None else "cpu"
        self._ncpu = 1 if server_cpu is not None else (os.cpu_count() or 1)
        if pid is None:
            return
        try:
            import psutil  # type: ignore[import-untyped]
        except ImportError:
            self.missing = "psutil is not installed: pip install 'kibitz[bench]'"
            return
        self._proc = psutil.Process(pid)

    def cpu_s(self) -> float | None:
        if self._proc is None:
            return None
        t = self._proc.cpu_times()
        return float(t.user + t.system)

    def rss(self) -> int | None:
        return int(self._proc.memory_info().rss) if self._proc is not None else None

    def node_rss(self) -> list[int | None] | None:
        """Per node RSS: only a cluster has nodes."""
        return None

    def mark(self) -> Mark:
        return Mark(time.monotonic(), self.cpu_s(), _cpu_busy_s())

    def since(self, m: Mark) -> dict[str, float | None]:
        """server_cpu_pct (of one core), server_core_busy_pct, other_load_pct."""
        now = self.mark()
        wall = max(now.wall - m.wall, 1e-9)
        server = (
            100.0 * (now.server_cpu_s - m.server_cpu_s) / wall
            if now.server_cpu_s is not None and m.server_cpu_s is not None
            else None
        )
        busy: float | None = None
        if self._core in now.busy and self._core in m.busy:
            busy = 100.0 * (now.busy[self._core] - m.busy[self._core]) / wall / self._ncpu
        other = max(0.0, busy - (server or 0.0) / self._ncpu) if busy is not None else None
        if self._proc is None or self._ncpu != 1:
            other = None  # remote, or unpinned: the generator shares the cores
        return {"server_cpu_pct": server, "server_core_busy_pct": busy, "other_load_pct": other}


def app_token(ep: Endpoint) -> str:
    resp = httpx.post(
        f"{ep.rest}/{ep.org}/{ep.app}/token",
        json={
            "grant_type": "client_credentials",
            "client_id": ep.client_id,
            "client_secret": ep.client_secret,
        },
        timeout=30,
    )
    resp.raise_for_status()
    return str(resp.json()["access_token"])


async def _register(
    ep: Endpoint,
    token: str,
    names: list[str],
    password: str | None,
    on_batch: Callable[[int], None],
) -> dict[str, str]:
    """username → uuid for every name (registered here, or already there)."""
    uuids: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {token}"}
    slots = asyncio.Semaphore(4)
    async with httpx.AsyncClient(base_url=ep.rest, headers=headers, timeout=60) as http:

        async def batch(chunk: list[str]) -> None:
            body = [{"username": n, **({"password": password} if password else {})} for n in chunk]
            async with slots:
                resp = await http.post(f"/{ep.org}/{ep.app}/users", json=body)
            if resp.status_code != 200:
                raise RuntimeError(f"registering users: HTTP {resp.status_code} {resp.text[:300]}")
            for entity in resp.json().get("entities", []):
                uuids[entity["username"]] = entity["uuid"]
            on_batch(len(chunk))

        await asyncio.gather(*(batch(names[i : i + _BATCH]) for i in range(0, len(names), _BATCH)))
    missing = [n for n in names if n not in uuids]
    if missing:
        raise RuntimeError(f"{len(missing)} users were not registered, e.g. {missing[:3]}")
    return uuids


async def _password_tokens(
    ep: Endpoint, names: list[str], password: str, on_one: Callable[[int], None]
) -> dict[str, str]:
    tokens: dict[str, str] = {}
    slots = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=ep.rest, timeout=60) as http:

        async def one(name: str) -> None:
            async with slots:
                resp = await http.post(
                    f"/{ep.org}/{ep.app}/token",
                    json={"grant_type": "password", "username": name, "password": password},
                )
            resp.raise_for_status()
            tokens[name] = resp.json()["access_token"]
            on_one(1)

        await asyncio.gather(*(one(n) for n in names))
    return tokens


def register_users(
    ep: Endpoint, token: str, names: list[str], on_progress: Callable[[int], None]
) -> list[str]:
    """Register ``names`` and return one SDK login token per name, in order."""
    if ep.app_id and ep.app_certificate:
        from kibitz.server.domain.accesstoken2 import build_chat_user_token

        uuids = asyncio.run(_register(ep, token, names, None, on_progress))
        now = int(time.time())
        return [
            build_chat_user_token(
                ep.app_id, ep.app_certificate, uuids[n], _TOKEN_TTL_S, issue_ts=now
            )
            for n in names
        ]
    password = "bench-" + os.urandom(6).hex()
    asyncio.run(_register(ep, token, names, password, on_progress))
    tokens = asyncio.run(_password_tokens(ep, names, password, lambda _: None))
    return [tokens[n] for n in names]
