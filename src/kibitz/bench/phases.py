"""The shape every traffic phase shares, and the helpers the scenarios are built from.

A phase is *arm* (reset counters, a new phase number in the markers), *send* for the phase's
duration on a fixed schedule, *settle* until every send is acked, then *drain* until every
acked delivery arrived (or the drain timeout). Figures are merged over the workers; server
CPU is measured over the send window only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .cluster import Monitor
from .config import BenchConfig
from .placement import pair_placement, round_robin
from .pool import Pool
from .progress import Progress
from .stats import merge_counts, summarize_ns
from .worker import OpenSpec

__all__ = [
    "ACK_TIMEOUT_S",
    "Context",
    "close_all",
    "deal",
    "fanout_setup",
    "gen_cpu",
    "measure",
    "node_list",
    "open_dealt",
    "open_sessions",
    "pairs_of",
    "spread",
    "warm",
]

ACK_TIMEOUT_S = 15.0  # the SDK's send timeout


@dataclass
class Context:
    cfg: BenchConfig
    pool: Pool
    users: Sequence[tuple[int, str, str]]  # (index, username, token)
    monitor: Monitor
    progress: Progress
    rest_send_urls: Sequence[str]  # one per node, in node order
    app_token: str
    phase_no: int = 0
    logged_in_by_node: list[int] = field(default_factory=list)  # of the last login
    rest_app_urls: Sequence[str] = ()  # {rest}/{org}/{app} per node, in node order

    @property
    def nodes(self) -> int:
        return len(self.rest_send_urls)


def spread(
    ctx: Context, pairs: Sequence[tuple[int, str, int, str]] | None = None
) -> dict[str, Any]:
    """With several nodes, where the phase's sessions were: logged in per node and, for
    pairs, how many have their two users on different nodes. Nothing with one node."""
    if ctx.nodes == 1:
        return {}
    out: dict[str, Any] = {"sessions_by_node": list(ctx.logged_in_by_node)}
    if pairs is not None:
        where = pair_placement(pairs, ctx.nodes)
        out["cross_node_pairs"] = sum(1 for a, _, b, _ in pairs if where[a] != where[b])
    return out


def _logged_in(ctx: Context, results: Sequence[dict[str, Any]]) -> None:
    counts = [0] * ctx.nodes
    for r in results:
        for node, n in enumerate(r.get("by_node", ())):
            counts[node] += n
    ctx.logged_in_by_node = counts


def node_list(
    ctx: Context, users: Sequence[tuple[int, str, str]], placement: Mapping[int, int] | None
) -> tuple[int, ...]:
    """The node of each of ``users`` for an ``OpenSpec``; () = all on node 0 (one node)."""
    if ctx.nodes == 1 or placement is None:
        return ()
    return tuple(placement[u[0]] for u in users)


def deal(items: Sequence[Any], n: int) -> list[list[Any]]:
    return [list(items[i::n]) for i in range(n)]


def gen_cpu(results: Sequence[dict[str, Any]]) -> float:
    wall = max((r["wall_s"] for r in results), default=0.0)
    return 100.0 * sum(r["cpu_s"] for r in results) / wall if wall > 0 else 0.0


def open_sessions(
    ctx: Context, label: str, users: Sequence[tuple[int, str, str]], ramp: float
) -> tuple[dict[int, int], list[dict[str, Any]]]:
    """Log ``users`` in, dealt over the workers and round-robin over the nodes; returns
    (user → worker, results)."""
    procs = ctx.pool.size
    dealt = deal(users, procs)
    owners = {u[0]: w for w, chunk in enumerate(dealt) for u in chunk}
    placement = round_robin([u[0] for u in users], ctx.nodes) if ctx.nodes > 1 else None
    specs = [
        OpenSpec(
            chunk,
            ramp / procs,
            max(1, ctx.cfg.connect_concurrency // procs),
            ctx.cfg.login_timeout,
            node_list(ctx, chunk, placement),
        )
        for chunk in dealt
    ]
    ctx.progress.begin(label, len(users))

    def tick() -> None:
        sessions, _, _, errors = ctx.pool.totals()
        ctx.progress.update(sessions, f"err {errors}")

    results = ctx.pool.call("open", specs, tick)
    _logged_in(ctx, results)
    failures = merge_counts(r["failures"] for r in results)
    ctx.progress.end(
        f"{sum(r['connected'] for r in results)} logged in"
        + (f", failures {failures}" if failures else "")
    )
    return owners, results


def close_all(ctx: Context) -> None:
    ctx.pool.call("close")


def pairs_of(ctx: Context, count: int, offset: int = 0) -> list[tuple[int, str, int, str]]:
    u = ctx.users
    return [
        (
            u[offset + 2 * i][0],
            u[offset + 2 * i][1],
            u[offset + 2 * i + 1][0],
            u[offset + 2 * i + 1][1],
        )
        for i in range(count)
    ]


def measure(
    ctx: Context,
    label: str,
    cmd: str,
    args: Sequence[Any],
    planned: int,
    owners: dict[int, int],
    window_s: float,
) -> dict[str, Any]:
    """arm → send → settle (acks) → drain (deliveries); merged figures.

    Delivered/s counts deliveries over the longer of the send window and the span from the
    first to the last receipt: a server that keeps up delivers at the offered rate, one that
    falls behind stretches the span.
    """
    pool, mon = ctx.pool, ctx.monitor
    ctx.phase_no += 1
    pool.call("arm", [ctx.phase_no] * pool.size)
    ctx.progress.begin(label, planned)

    def tick() -> None:
        _, sent, received, errors = pool.totals()
        ctx.progress.update(sent, f"recv {received} err {errors}")

    mark = mon.mark()
    sends = pool.call(cmd, args, tick)
    usage = mon.since(mark)
    first = pool.call("settle", [(ACK_TIMEOUT_S, None)] * pool.size, tick)
    expected: list[list[int]] = [[] for _ in range(pool.size)]
    for r in first:
        for key in r["acked"]:
            owner = owners.get(key >> 64)
            if owner is not None:
                expected[owner].append(key)
    final = pool.call("settle", [(ctx.cfg.drain_timeout, e) for e in expected], tick)
    acked = {k for r in final for k in r["acked"]}
    received = {k for r in final for k in r["received"]}
    lost = len(acked - received)
    firsts = [r["first_rx_ns"] for r in final if r["first_rx_ns"]]
    last_ns = max(r["last_rx_ns"] for r in final)
    span = max(window_s, (last_ns - min(firsts)) / 1e9 if firsts else 0.0)
    out: dict[str, Any] = {
        "sent": sum(r["sent"] for r in final),
        "acked": len(acked),
        "received": len(received),
        "lost": lost,
        "loss_ratio": lost / len(acked) if acked else 0.0,
        "unacked": sum(r["unacked"] for r in final),
        "refused": sum(r["failed"] for r in final),
        "not_sent": sum(r["skipped"] for r in final),
        "duplicates": sum(r["dup"] for r in final),
        "stale": sum(r["stale"] for r in final),
        "sessions_lost": sum(r["lost_sessions"] for r in final),
        "errors": merge_counts(r["errors"] for r in final),
        "delivered_per_s": len(received) / span if span > 0 else 0.0,
        "latency": summarize_ns(r["latency_ns"] for r in final),
        "ack_latency": summarize_ns(r["ack_ns"] for r in final),
        "send_lag": summarize_ns(r["lag_ns"] for r in final),
        **usage,
        "generator_cpu_pct": gen_cpu(sends),
        "server_rss_mb": (mon.rss() or 0) / 2**20 if mon.rss() is not None else None,
    }
    lat = out["latency"]
    ctx.progress.end(
        f"delivered {out['received']}/{out['acked']} ({out['delivered_per_s']:.0f}/s), "
        f"p50 {_ms(lat['p50_ms'])} p99 {_ms(lat['p99_ms'])}, lost {lost}"
    )
    return out


def warm(ctx: Context, cmd: str, args: Sequence[Any]) -> None:
    """Unrecorded traffic first (``--warmup`` s): caches, compiled statements and the
    allocator warm up as they would on a server that has been running a while."""
    if ctx.cfg.warmup <= 0:
        return
    pool = ctx.pool
    ctx.phase_no += 1
    pool.call("arm", [ctx.phase_no] * pool.size)
    ctx.progress.begin("  warm-up", 0)
    pool.call(cmd, args)
    pool.call("settle", [(ACK_TIMEOUT_S, None)] * pool.size)
    pool.call("settle", [(ctx.cfg.drain_timeout, [])] * pool.size)
    ctx.progress.end()


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}ms"


# -- scenarios ----------------------------------------------------------------------------


def open_dealt(
    ctx: Context,
    label: str,
    by_worker: list[list[tuple[int, str, str]]],
    total: int,
    placement: Mapping[int, int] | None = None,
) -> None:
    """Log in sessions already dealt to workers, each on its node in ``placement``."""
    specs = [
        OpenSpec(
            chunk,
            0.0,
            max(1, ctx.cfg.connect_concurrency // ctx.pool.size),
            ctx.cfg.login_timeout,
            node_list(ctx, chunk, placement),
        )
        for chunk in by_worker
    ]
    ctx.progress.begin(label, total)
    _logged_in(ctx, ctx.pool.call("open", specs, lambda: ctx.progress.update(ctx.pool.totals()[0])))
    ctx.progress.end()


def fanout_setup(ctx: Context, label: str) -> dict[int, int]:
    """Receivers logged in over all workers (round-robin over the nodes); worker 0 alone
    sends over REST, its sends alternating over the nodes' REST bases."""
    sender = ctx.users[0]
    receivers = list(ctx.users[1 : 1 + ctx.cfg.receivers])
    owners, _ = open_sessions(ctx, label, receivers, 0.0)
    rest = (
        tuple(ctx.rest_send_urls),
        ctx.app_token,
        (sender[0], sender[1]),
        [(r[0], r[1]) for r in receivers],
    )
    ctx.pool.call("fanout_setup", [rest if w == 0 else None for w in range(ctx.pool.size)])
    return owners
