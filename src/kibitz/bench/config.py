"""Everything a run is parameterised by, and the targets of issues 5 and 10 to compare against."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_SCENARIOS",
    "GROUP_PHASES",
    "SCENARIOS",
    "TARGETS",
    "BenchConfig",
    "target_issue",
]

SCENARIOS = ("connect", "echo", "fanout", "saturate", "group")
# what a bare ``kibitz bench`` runs: issue 5's four; ``group`` is asked for by name
DEFAULT_SCENARIOS = ("connect", "echo", "fanout", "saturate")
# group: a fixed rate (latency), a step search (max delivered/s), one large group at 1/s
GROUP_PHASES = ("rate", "saturate", "large")

# (scenario, figure, comparison, value, what it means) — issue 5, item 4, on this 2-core
# machine with the server pinned to one core and the generator to the other.
TARGETS: tuple[tuple[str, str, str, float, str], ...] = (
    ("connect", "connected", ">=", 10_000, "sessions held by one server core"),
    ("connect", "rss_per_session_kb", "<=", 100, "server RSS per session (KB)"),
    ("connect", "logins_per_s", ">=", 500, "token logins/s"),
    ("echo", "latency.p50_ms", "<=", 1.5, "round trip p50 (ms), 50 pairs at 1 msg/s"),
    ("echo", "latency.p99_ms", "<=", 3.0, "round trip p99 (ms)"),
    ("echo", "lost", "<=", 0, "lost messages"),
    ("fanout", "latency.p99_ms", "<=", 8.0, "delivery p99 (ms), 100 receivers at 5 msg/s"),
    ("fanout", "lost", "<=", 0, "lost deliveries"),
    ("saturate", "fanout.max_sustained_per_s", ">=", 10_000, "fan-out delivered msg/s"),
    ("saturate", "1:1.max_sustained_per_s", ">=", 5_000, "1:1 persisted+delivered msg/s"),
    # issue 10, item 8: msync GROUPCHAT to a group of M members, all online
    ("group", "rate.latency.p99_ms", "<=", 10.0, "delivery p99 (ms), 100 members at 5 msg/s"),
    ("group", "rate.lost", "<=", 0, "lost deliveries, 100 members"),
    ("group", "rate.duplicates", "<=", 0, "duplicate deliveries, 100 members"),
    ("group", "saturate.max_sustained_per_s", ">=", 51_200, "delivered msg/s, 100 members"),
    ("group", "large.latency.p99_ms", "<=", 100.0, "delivery p99 (ms), 3,000 members at 1 msg/s"),
    ("group", "large.lost", "<=", 0, "lost deliveries, 3,000 members"),
    ("group", "large.duplicates", "<=", 0, "duplicate deliveries, 3,000 members"),
)
_ISSUES = {"group": 10}


def target_issue(scenario: str) -> int:
    """The issue a scenario's targets come from."""
    return _ISSUES.get(scenario, 5)


@dataclass
class BenchConfig:
    scenarios: tuple[str, ...] = DEFAULT_SCENARIOS
    # connect
    sessions: int = 2000
    ramp: float = 1000.0  # logins/s offered; 0 = as fast as the concurrency allows
    connect_concurrency: int = 200
    hold: float = 2.0
    # echo
    pairs: int = 50
    echo_rate: float = 1.0
    # fanout
    receivers: int = 100
    rate: float = 5.0
    duration: float = 10.0
    # saturate
    sat_pairs: int = 50
    sat_start: float = 1000.0  # 1:1 msg/s at the first step
    sat_fanout_start: float = 1000.0  # fan-out deliveries/s at the first step
    sat_factor: float = 1.5
    sat_steps: int = 12
    sat_refine: int = 2  # bisection steps between the best pass and the first failure
    sat_duration: float = 5.0
    latency_limit_ms: float = 1000.0
    loss_limit: float = 0.001
    drain_timeout: float = 5.0
    # group: one member sends GROUPCHAT over msync, the other M − 1 pull it
    group_members: int = 100
    group_rate: float = 5.0  # sends/s of the fixed-rate phase
    group_sat_start: float = 10_000.0  # delivered msg/s offered at the first step
    group_large_members: int = 3000
    group_large_rate: float = 1.0
    group_phases: tuple[str, ...] = GROUP_PHASES
    warmup: float = 1.0  # unrecorded traffic before each measured phase
    login_timeout: float = 10.0
    # generator
    procs: int = 1
    client_cpu: int | None = None
    # server
    server_cpu: int | None = None
    database_url: str | None = None
    server_env: dict[str, str] = field(default_factory=dict)
    keep_data: bool = False
    # a local cluster: N nodes on one PostgreSQL database and one Redis, one CPU each
    cluster_nodes: int | None = None
    redis_url: str | None = None
    server_cpus: tuple[int, ...] = ()
    # running nodes (one or several, paired by position)
    rest_servers: tuple[str, ...] = ()
    im_servers: tuple[str, ...] = ()
    app_key: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    app_id: str | None = None
    app_certificate: str | None = None
    # output
    json_path: Path | None = None
    plot_dir: Path | None = None
    progress: bool = True

    @property
    def local(self) -> bool:
        return not self.rest_servers

    @property
    def node_count(self) -> int:
        return self.cluster_nodes or len(self.rest_servers) or 1

    def validate(self) -> None:
        """Raise ``ValueError`` for options that do not fit together."""
        if "group" in self.scenarios:
            sizes = [self.group_members]
            if "large" in self.group_phases:
                sizes.append(self.group_large_members)
            if min(sizes) < 2:
                raise ValueError("a group needs at least 2 members (a sender and a receiver)")
        if not self.rest_servers and (self.app_key or self.im_servers):
            raise ValueError("--app-key/--im-server need --rest-server")
        if self.im_servers and len(self.im_servers) != len(self.rest_servers):
            raise ValueError(
                f"{len(self.rest_servers)} --rest-server but {len(self.im_servers)} --im-server:"
                " give one --im-server per --rest-server (paired by position), or none"
            )
        if self.cluster_nodes is None:
            if self.redis_url:
                raise ValueError("--redis-url is for a local cluster: add --cluster-nodes N")
            if self.server_cpus:
                raise ValueError("--server-cpus is for a local cluster (one server: --server-cpu)")
            return
        if self.cluster_nodes < 1:
            raise ValueError("--cluster-nodes is at least 1")
        if self.rest_servers:
            raise ValueError("--cluster-nodes starts local nodes: drop --rest-server")
        if not (self.database_url or "").startswith(("postgresql://", "postgres://")):
            raise ValueError("--cluster-nodes needs a PostgreSQL --database-url postgresql://…")
        if not (self.redis_url or "").startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("--cluster-nodes needs --redis-url redis://…")
        if self.server_cpus and len(self.server_cpus) != self.cluster_nodes:
            raise ValueError(
                f"--server-cpus lists {len(self.server_cpus)} CPUs for {self.cluster_nodes} "
                "nodes: give one per node"
            )
        if self.server_cpu is not None and self.cluster_nodes > 1:
            raise ValueError("--server-cpu pins one server: use --server-cpus 0,1,… per node")

    def node_cpus(self) -> list[int | None]:
        """The CPU each local node is pinned to (None: not pinned)."""
        if self.server_cpus:
            return list(self.server_cpus)
        return [self.server_cpu] * (self.cluster_nodes or 1)

    def users_needed(self) -> int:
        need = 2
        if "connect" in self.scenarios:
            need = max(need, self.sessions)
        if "echo" in self.scenarios:
            need = max(need, 2 * self.pairs)
        if "fanout" in self.scenarios or "saturate" in self.scenarios:
            need = max(need, self.receivers + 1)
        if "saturate" in self.scenarios:
            need = max(need, 2 * self.sat_pairs)
        if "group" in self.scenarios:
            need = max(need, self.group_members)
            if "large" in self.group_phases:
                need = max(need, self.group_large_members)
        return need

    def public(self) -> dict[str, Any]:
        """The configuration as recorded in the JSON (no secrets)."""
        out = asdict(self)
        for secret in ("client_secret", "app_certificate"):
            if out[secret]:
                out[secret] = "***"
        for url in ("database_url", "redis_url"):
            if out[url] and "@" in out[url]:
                scheme, rest = out[url].split("://", 1)
                out[url] = f"{scheme}://***@{rest.split('@', 1)[1]}"
        for key in ("json_path", "plot_dir"):
            out[key] = str(out[key]) if out[key] else None
        return out
