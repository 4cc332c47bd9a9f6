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
from urllib.parse import urlsplit

import httpx

from .config import BenchConfig

__all__ = ["Endpoint", "LocalServer", "ServerMonitor", "app_token", "register_users"]

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
    def remote(cls, cfg: BenchConfig) -> Endpoint:
        if not (cfg.rest_server and cfg.app_key and cfg.client_id and cfg.client_secret):
            raise ValueError(
                "a remote target needs --rest-server, --app-key, --client-id and --client-secret"
            )
        org, _, app = cfg.app_key.partition("#")
        rest = cfg.rest_server.rstrip("/")
        ws = cfg.im_server or _default_ws(rest)
        return cls(
            rest, ws, org, app, cfg.client_id, cfg.client_secret, cfg.app_id, cfg.app_certificate
        )


def _default_ws(rest: str) -> str:
    url = urlsplit(rest)
    scheme = "wss" if url.scheme == "https" else "ws"
    return f"{scheme}://{url.netloc}/websocket"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalServer:
    """``kibitz serve`` on a free port, in a fresh data dir, optionally under ``taskset``."""

    def __init__(self, cfg: BenchConfig, run_tag: str) -> None:
        self.cfg = cfg
        self.run_tag = run_tag
        self.data_dir = Path(tempfile.mkdtemp(prefix="kibitz-bench-"))
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "server.log"

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
        return env

    def start(self) -> Endpoint:
        org, app = "bench", f"run{self.run_tag}"
        out = subprocess.run(
            [*self._cli(), "app", "create", org, app, "--json", *self._storage()],
            check=True,
            capture_output=True,
            timeout=120,
            env=self._env(),
        ).stdout
        creds = json.loads(out)
        cmd = [*self._cli(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += self._storage()
        if self.cfg.server_cpu is not None:
            if shutil.which("taskset") is None:
                raise RuntimeError("--server-cpu needs taskset (util-linux)")
            cmd = ["taskset", "-c", str(self.cfg.server_cpu), *cmd]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self._env())
        log.close()
        rest = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kibitz serve exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{rest}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # a starting process; bounded by the deadline
        else:
            raise RuntimeError(f"kibitz serve not healthy within 60 s:\n{self.log_tail()}")
        return Endpoint(
            rest,
            f"ws://127.0.0.1:{self.port}/websocket",
            creds["org_name"],
            creds["app_name"],
            creds["client_id"],
            creds["client_secret"],
            creds["app_id"],
            creds["app_certificate"],
        )

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
        if not self.cfg.keep_data:
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
