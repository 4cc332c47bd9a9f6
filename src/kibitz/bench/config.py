"""Everything a run is parameterised by, and the targets of issue 5 to compare against."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SCENARIOS", "TARGETS", "BenchConfig"]

SCENARIOS = ("connect", "echo", "fanout", "saturate")

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
)


@dataclass
class BenchConfig:
    scenarios: tuple[str, ...] = SCENARIOS
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
    rest_server: str | None = None
    im_server: str | None = None
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
        return self.rest_server is None

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
        return need

    def public(self) -> dict[str, Any]:
        """The configuration as recorded in the JSON (no secrets)."""
        out = asdict(self)
        for secret in ("client_secret", "app_certificate"):
            if out[secret]:
                out[secret] = "***"
        if out["database_url"] and "@" in out["database_url"]:
            scheme, rest = out["database_url"].split("://", 1)
            out["database_url"] = f"{scheme}://***@{rest.split('@', 1)[1]}"
        for key in ("json_path", "plot_dir"):
            out[key] = str(out[key]) if out[key] else None
        return out
