"""A local cluster under test: N ``kibitz serve`` nodes on one PostgreSQL database and one
Redis, each pinned to its own CPU, and the monitor that reads every node's CPU and RSS.

The first node's ``app create`` migrates the database (an empty one gets its tables there)
and creates the run's app; the first node starts alone, the others once it is healthy. A
fresh Redis key prefix per run keeps runs (and their node leases) apart.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from .config import BenchConfig
from .target import ClusterNode, Endpoint, LocalServer, ServerMonitor, free_port

__all__ = ["ClusterMonitor", "LocalCluster", "Monitor", "combine"]


class Monitor(Protocol):
    """What the scenarios read of the server side: one server or every node of a cluster."""

    missing: str

    def cpu_s(self) -> float | None: ...

    def rss(self) -> int | None: ...

    def node_rss(self) -> list[int | None] | None: ...

    def mark(self) -> Any: ...

    def since(self, m: Any) -> dict[str, Any]: ...


def _distinct_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


class LocalCluster:
    """``cfg.cluster_nodes`` local nodes sharing ``cfg.database_url`` and ``cfg.redis_url``."""

    def __init__(self, cfg: BenchConfig, run_tag: str) -> None:
        assert cfg.cluster_nodes and cfg.redis_url, "validated by BenchConfig.validate"
        self.cfg = cfg
        self.data_dir = Path(tempfile.mkdtemp(prefix="kibitz-bench-cluster-"))
        self.redis_prefix = f"kibitz-bench-{run_tag}-{os.urandom(3).hex()}:"
        cpus = cfg.node_cpus()
        ports = _distinct_ports(cfg.cluster_nodes)
        self.nodes = [
            LocalServer(
                cfg,
                run_tag,
                ClusterNode(i, cfg.redis_url, self.redis_prefix),
                self.data_dir,
                cpus[i],
                ports[i],
            )
            for i in range(cfg.cluster_nodes)
        ]

    def start(self) -> list[Endpoint]:
        first, *others = self.nodes
        creds = first.create_app()
        first.launch()
        first.wait_healthy()
        for node in others:
            node.launch()
        for node in others:
            node.wait_healthy()
        return [node.endpoint(creds) for node in self.nodes]

    @property
    def pids(self) -> list[int | None]:
        return [node.pid for node in self.nodes]

    @property
    def cpus(self) -> list[int | None]:
        return [node.cpu for node in self.nodes]

    def log_tail(self, n: int = 3000) -> str:
        tails = [(i, node.log_tail(n // len(self.nodes))) for i, node in enumerate(self.nodes)]
        return "\n".join(f"--- node {i} ---\n{tail}" for i, tail in tails if tail)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self._forget_redis_keys()
        if not self.cfg.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def _forget_redis_keys(self) -> None:
        """Best effort: the run's keys (device hashes, released leases) leave Redis."""
        assert self.cfg.redis_url is not None
        try:
            import redis

            client = redis.Redis.from_url(
                self.cfg.redis_url, socket_timeout=5, socket_connect_timeout=5
            )
            try:
                keys = list(client.scan_iter(match=self.redis_prefix + "*", count=500))
                if keys:
                    client.delete(*keys)
            finally:
                client.close()
        except Exception:  # cleanup only; the keys are under a prefix no other run uses
            pass


class ClusterMonitor:
    """Every node's CPU and RSS, summed (% of one core, as for one server) and per node.

    A node pinned to a CPU of its own also gets its ``other_load_pct`` (its core's busy time
    minus its own); the sum compares the busy time of the nodes' distinct cores with the
    nodes' CPU together.
    """

    def __init__(self, pids: Sequence[int | None], cpus: Sequence[int | None]) -> None:
        self.nodes = [ServerMonitor(pid, cpu) for pid, cpu in zip(pids, cpus, strict=True)]
        self.cpus = list(cpus)
        self.missing = self.nodes[0].missing if self.nodes else ""

    def cpu_s(self) -> float | None:
        values = [n.cpu_s() for n in self.nodes]
        return None if any(v is None for v in values) else sum(v or 0.0 for v in values)

    def rss(self) -> int | None:
        values = [n.rss() for n in self.nodes]
        return None if any(v is None for v in values) else sum(v or 0 for v in values)

    def node_rss(self) -> list[int | None] | None:
        return [n.rss() for n in self.nodes]

    def mark(self) -> list[Any]:
        return [n.mark() for n in self.nodes]

    def since(self, m: Sequence[Any]) -> dict[str, Any]:
        per = [n.since(mark) for n, mark in zip(self.nodes, m, strict=True)]
        return combine(per, self.cpus, [n.rss() for n in self.nodes])


def combine(
    per: Sequence[dict[str, float | None]],
    cpus: Sequence[int | None],
    rss: Sequence[int | None],
) -> dict[str, Any]:
    """One server's figures from each node's: CPU summed (% of one core), the distinct
    pinned cores' busy time summed, others = that busy time minus the nodes' CPU; per node
    as measured, except ``other_load_pct`` of nodes that share a core (not separable)."""
    cpu = [p["server_cpu_pct"] for p in per]
    total = None if any(v is None for v in cpu) else sum(v or 0.0 for v in cpu)
    busy: float | None = None
    other: float | None = None
    if per and all(c is not None for c in cpus):
        first_on_core = {c: i for i, c in reversed(list(enumerate(cpus)))}
        values = [per[i]["server_core_busy_pct"] for i in first_on_core.values()]
        busy = None if any(v is None for v in values) else sum(v or 0.0 for v in values)
        if busy is not None and total is not None:
            other = max(0.0, busy - total)
    elif per:
        busy = per[0]["server_core_busy_pct"]  # unpinned: the whole machine, as for one server
    shared = {c for c in cpus if list(cpus).count(c) > 1}
    nodes = [
        {
            "node": i,
            "cpu": cpus[i],
            **p,
            "other_load_pct": None if cpus[i] in shared else p["other_load_pct"],
            "server_rss_mb": None if r is None else r / 2**20,
        }
        for i, (p, r) in enumerate(zip(per, rss, strict=True))
    ]
    return {
        "server_cpu_pct": total,
        "server_core_busy_pct": busy,
        "other_load_pct": other,
        "nodes": nodes,
    }
