"""One bench run: server up, users registered, generator processes spawned, scenarios run,
everything torn down again, whatever fails on the way."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .cluster import ClusterMonitor, LocalCluster, Monitor
from .config import BenchConfig
from .pool import Pool
from .progress import Progress
from .scenarios import Context, run_scenario
from .target import Endpoint, LocalServer, ServerMonitor, app_token, register_users

__all__ = ["machine_info", "run_bench"]


def _raise_fd_limit() -> None:
    """10,000 sessions need 10,000 sockets on each side; children inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else 1_048_576
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parents[3]
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.decode().strip() or None


def machine_info() -> dict[str, Any]:
    try:
        version = importlib.metadata.version("kibitz")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "mem_total_mb": _mem_total_mb(),
        "kibitz_version": version,
        "git_commit": _git_commit(),
        "fd_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    }


def _f(cpu: int | None) -> str:
    return "-" if cpu is None else str(cpu)


def _pid(server: LocalServer | None) -> int | None:
    return server.pid if server is not None else None


def _nodes(
    endpoints: list[Endpoint], server: LocalServer | LocalCluster | None
) -> list[dict[str, Any]]:
    """The node list of the report: where each node listens, its process and CPU."""
    if isinstance(server, LocalCluster):
        pids, cpus = server.pids, server.cpus
    elif server is not None:
        pids, cpus = [server.pid], [server.cpu]
    else:
        pids, cpus = [None] * len(endpoints), [None] * len(endpoints)
    return [
        {"node": i, "rest": e.rest, "ws": e.ws, "pid": pid, "cpu": cpu}
        for i, (e, pid, cpu) in enumerate(zip(endpoints, pids, cpus, strict=True))
    ]


def run_bench(cfg: BenchConfig) -> dict[str, Any]:
    """Run the configured scenarios; returns the full result (what ``--json`` writes)."""
    cfg.validate()
    _raise_fd_limit()
    progress = Progress(enabled=cfg.progress)
    run_tag = os.urandom(3).hex()
    if cfg.client_cpu is not None:
        os.sched_setaffinity(0, {cfg.client_cpu})
    started = datetime.now(UTC).isoformat(timespec="seconds")
    load_start = os.getloadavg()
    server: LocalServer | LocalCluster | None = None
    pool: Pool | None = None
    try:
        monitor: Monitor
        if cfg.cluster_nodes is not None:
            server = LocalCluster(cfg, run_tag)
            progress.note(
                f"starting {cfg.cluster_nodes} kibitz serve nodes (PostgreSQL + Redis, "
                f"CPUs {', '.join(_f(c) for c in server.cpus)}, logs in {server.data_dir})"
            )
            endpoints = server.start()
            monitor = ClusterMonitor(server.pids, server.cpus)
        elif cfg.local:
            server = LocalServer(cfg, run_tag)
            progress.note(
                f"starting kibitz serve ({'PostgreSQL' if cfg.database_url else 'SQLite'}"
                f", data in {server.data_dir})"
            )
            endpoints = [server.start()]
            monitor = ServerMonitor(server.pid, cfg.server_cpu)
        else:
            endpoints = Endpoint.remote(cfg)
            monitor = ServerMonitor(None, cfg.server_cpu)
        endpoint = endpoints[0]  # app token and registration: the nodes share one database
        if monitor.missing:
            progress.note(monitor.missing)
        token = app_token(endpoint)
        count = cfg.users_needed()
        names = [f"b{run_tag}_{i}" for i in range(count)]
        progress.begin("register users", count)
        done = [0]

        def registered(n: int) -> None:
            done[0] += n
            progress.update(done[0])

        tokens = register_users(endpoint, token, names, registered)
        progress.end(f"{count} users")
        ws_urls = [e.ws for e in endpoints]
        pool = Pool(cfg.procs, ws_urls, endpoint.app_key, cfg.client_cpu, int(run_tag, 16))
        ctx = Context(
            cfg=cfg,
            pool=pool,
            users=[(i, names[i], tokens[i]) for i in range(count)],
            monitor=monitor,
            progress=progress,
            rest_send_urls=[f"{e.rest}/{e.org}/{e.app}/messages/users" for e in endpoints],
            app_token=token,
            rest_app_urls=[f"{e.rest}/{e.org}/{e.app}" for e in endpoints],
        )
        results: dict[str, Any] = {}
        for name in cfg.scenarios:
            t0 = time.monotonic()
            results[name] = run_scenario(ctx, name)
            results[name]["scenario_s"] = time.monotonic() - t0
        return {
            "started_at": started,
            "command": " ".join(["kibitz", *sys.argv[1:]]) if sys.argv else "kibitz bench",
            "machine": {
                **machine_info(),
                "loadavg_start": load_start,
                "loadavg_end": os.getloadavg(),
            },
            "config": cfg.public(),
            "server": {
                "local": cfg.local,
                "database": "postgresql" if cfg.database_url else "sqlite",
                "rest": endpoint.rest,
                "ws": endpoint.ws,
                "pid": server.pids[0] if isinstance(server, LocalCluster) else _pid(server),
                "monitored": monitor.cpu_s() is not None,
                "cluster": cfg.cluster_nodes is not None,
                "nodes": _nodes(endpoints, server),
                **(
                    {"redis_prefix": server.redis_prefix}
                    if isinstance(server, LocalCluster)
                    else {}
                ),
            },
            "generator": {"procs": cfg.procs, "pids": pool.pids, "cpu": cfg.client_cpu},
            "results": results,
        }
    except BaseException:
        if server is not None:
            tail = server.log_tail()
            if tail:
                progress.note("--- server log (tail) ---\n" + tail)
        raise
    finally:
        if pool is not None:
            pool.close()
        if server is not None:
            server.stop()
