"""The four scenarios, run by the coordinator over the worker pool.

Each traffic phase has the same shape: *arm* (reset counters, new phase number in the
markers), *send* for the phase's duration on a fixed schedule, *settle* until every send is
acked, then *drain* until every acked delivery arrived (or the drain timeout). Figures are
merged over the workers; server CPU is measured over the send window only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .config import BenchConfig
from .pool import Pool
from .progress import Progress
from .stats import merge_counts, summarize_ns
from .target import ServerMonitor
from .worker import OpenSpec

__all__ = ["Context", "run_scenario"]

_ACK_TIMEOUT_S = 15.0  # the SDK's send timeout
_KEEP_UP = 0.9  # a sustained step delivers at least this share of the offered rate


@dataclass
class Context:
    cfg: BenchConfig
    pool: Pool
    users: Sequence[tuple[int, str, str]]  # (index, username, token)
    monitor: ServerMonitor
    progress: Progress
    rest_send_url: str
    app_token: str
    phase_no: int = 0


def run_scenario(ctx: Context, name: str) -> dict[str, Any]:
    return {"connect": connect, "echo": echo, "fanout": fanout, "saturate": saturate}[name](ctx)


# -- helpers -------------------------------------------------------------------------------


def _deal(items: Sequence[Any], n: int) -> list[list[Any]]:
    return [list(items[i::n]) for i in range(n)]


def _gen_cpu(results: Sequence[dict[str, Any]]) -> float:
    wall = max((r["wall_s"] for r in results), default=0.0)
    return 100.0 * sum(r["cpu_s"] for r in results) / wall if wall > 0 else 0.0


def _open(
    ctx: Context, label: str, users: Sequence[tuple[int, str, str]], ramp: float
) -> tuple[dict[int, int], list[dict[str, Any]]]:
    """Log ``users`` in, dealt over the workers; returns (user → worker, results)."""
    procs = ctx.pool.size
    dealt = _deal(users, procs)
    owners = {u[0]: w for w, chunk in enumerate(dealt) for u in chunk}
    specs = [
        OpenSpec(
            chunk, ramp / procs, max(1, ctx.cfg.connect_concurrency // procs), ctx.cfg.login_timeout
        )
        for chunk in dealt
    ]
    ctx.progress.begin(label, len(users))

    def tick() -> None:
        sessions, _, _, errors = ctx.pool.totals()
        ctx.progress.update(sessions, f"err {errors}")

    results = ctx.pool.call("open", specs, tick)
    failures = merge_counts(r["failures"] for r in results)
    ctx.progress.end(
        f"{sum(r['connected'] for r in results)} logged in"
        + (f", failures {failures}" if failures else "")
    )
    return owners, results


def _close(ctx: Context) -> None:
    ctx.pool.call("close")


def _pairs(ctx: Context, count: int, offset: int = 0) -> list[tuple[int, str, int, str]]:
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


def _measure(
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
    first = pool.call("settle", [(_ACK_TIMEOUT_S, None)] * pool.size, tick)
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
        "generator_cpu_pct": _gen_cpu(sends),
        "server_rss_mb": (mon.rss() or 0) / 2**20 if mon.rss() is not None else None,
    }
    lat = out["latency"]
    ctx.progress.end(
        f"delivered {out['received']}/{out['acked']} ({out['delivered_per_s']:.0f}/s), "
        f"p50 {_ms(lat['p50_ms'])} p99 {_ms(lat['p99_ms'])}, lost {lost}"
    )
    return out


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}ms"


# -- scenarios ----------------------------------------------------------------------------


def connect(ctx: Context) -> dict[str, Any]:
    cfg, mon = ctx.cfg, ctx.monitor
    rss0 = mon.rss()
    mark = mon.mark()
    owners, results = _open(ctx, "connect", ctx.users[: cfg.sessions], cfg.ramp)
    usage = mon.since(mark)
    connected = sum(r["connected"] for r in results)
    elapsed = max((r["elapsed_s"] for r in results), default=0.0)
    if cfg.hold > 0:
        time.sleep(cfg.hold)  # hold the sessions, then read the server's memory
    rss1 = mon.rss()
    out: dict[str, Any] = {
        "sessions": cfg.sessions,
        "connected": connected,
        "failures": merge_counts(r["failures"] for r in results),
        "ramp_per_s": cfg.ramp,
        "elapsed_s": elapsed,
        "logins_per_s": connected / elapsed if elapsed > 0 else 0.0,
        "latency": summarize_ns(r["connect_ns"] for r in results),
        **usage,
        "generator_cpu_pct": _gen_cpu(results),
        "server_rss_before_mb": rss0 / 2**20 if rss0 is not None else None,
        "server_rss_mb": rss1 / 2**20 if rss1 is not None else None,
        "rss_per_session_kb": (rss1 - rss0) / 1024 / connected
        if rss0 is not None and rss1 is not None and connected
        else None,
    }
    _close(ctx)
    del owners
    return out


def echo(ctx: Context) -> dict[str, Any]:
    cfg = ctx.cfg
    pairs = _pairs(ctx, cfg.pairs)
    dealt = _deal(pairs, ctx.pool.size)
    users = {u[0]: u for u in ctx.users}
    # both sides of a pair in one worker: the round trip is timed by one clock
    owners: dict[int, int] = {}
    for w, chunk in enumerate(dealt):
        for a, _, b, _ in chunk:
            owners[a] = owners[b] = w
    by_worker = [[users[x] for a, _, b, _ in chunk for x in (a, b)] for chunk in dealt]
    flat = [u for chunk in by_worker for u in chunk]
    _open_dealt(ctx, "echo: login", by_worker, len(flat))
    ctx.pool.call("flows", [(chunk, True) for chunk in dealt])
    args = [(True, len(chunk) * cfg.echo_rate, cfg.duration) for chunk in dealt]
    planned = int(cfg.pairs * cfg.echo_rate * cfg.duration)
    out = _measure(ctx, "echo", "send", args, planned, owners, cfg.duration)
    out.update(
        pairs=cfg.pairs,
        rate_per_pair=cfg.echo_rate,
        duration_s=cfg.duration,
        latency_is="round trip",
    )
    _close(ctx)
    return out


def _open_dealt(
    ctx: Context, label: str, by_worker: list[list[tuple[int, str, str]]], total: int
) -> None:
    specs = [
        OpenSpec(
            chunk, 0.0, max(1, ctx.cfg.connect_concurrency // ctx.pool.size), ctx.cfg.login_timeout
        )
        for chunk in by_worker
    ]
    ctx.progress.begin(label, total)
    ctx.pool.call("open", specs, lambda: ctx.progress.update(ctx.pool.totals()[0]))
    ctx.progress.end()


def _fanout_setup(ctx: Context, label: str) -> dict[int, int]:
    """Receivers logged in over all workers; worker 0 alone sends over REST."""
    sender = ctx.users[0]
    receivers = list(ctx.users[1 : 1 + ctx.cfg.receivers])
    owners, _ = _open(ctx, label, receivers, 0.0)
    rest = (
        ctx.rest_send_url,
        ctx.app_token,
        (sender[0], sender[1]),
        [(r[0], r[1]) for r in receivers],
    )
    ctx.pool.call("fanout_setup", [rest if w == 0 else None for w in range(ctx.pool.size)])
    return owners


def fanout(ctx: Context) -> dict[str, Any]:
    cfg = ctx.cfg
    owners = _fanout_setup(ctx, "fanout: login")
    args = [(cfg.rate if w == 0 else 0.0, cfg.duration) for w in range(ctx.pool.size)]
    planned = int(cfg.rate * cfg.duration) * cfg.receivers
    out = _measure(ctx, "fanout", "fanout", args, planned, owners, cfg.duration)
    out.update(
        receivers=cfg.receivers,
        rate=cfg.rate,
        duration_s=cfg.duration,
        offered_per_s=cfg.rate * cfg.receivers,
        latency_is="send to receipt",
    )
    _close(ctx)
    return out


def _step_ok(step: dict[str, Any], offered: float, cfg: BenchConfig) -> tuple[bool, str]:
    """A step is sustained when p99, loss and the delivered rate all hold."""
    p99 = step["latency"]["p99_ms"]
    if p99 is None:
        return False, "nothing delivered"
    if p99 > cfg.latency_limit_ms:
        return False, f"p99 {p99:.0f} ms > {cfg.latency_limit_ms:.0f} ms"
    base = max(step["acked"] + step["unacked"] + step["refused"], 1)
    bad = step["lost"] + step["unacked"] + step["refused"] + step["not_sent"]
    if bad / base > cfg.loss_limit:
        return False, f"loss {100 * bad / base:.2f}% > {100 * cfg.loss_limit:.2f}%"
    if step["delivered_per_s"] < _KEEP_UP * offered:
        return False, f"delivered {step['delivered_per_s']:.0f}/s < {_KEEP_UP:.0%} of offered"
    return True, ""


def _stepper(ctx: Context, mode: str, start: float, run: Any) -> dict[str, Any]:
    """Raise the rate by ``--sat-factor`` until a step fails (lower it first if the first
    step fails), then bisect between the best pass and the first failure."""
    cfg = ctx.cfg
    steps: list[dict[str, Any]] = []
    passed: list[float] = []
    failed: list[float] = []
    stop_reason = f"reached --sat-steps {cfg.sat_steps}"

    def step(rate: float) -> None:
        nonlocal stop_reason
        result = run(rate, f"saturate {mode} @{rate:.0f}/s")
        ok, why = _step_ok(result, rate, cfg)
        result.update(offered_per_s=rate, step=len(steps), passed=ok, failed_because=why or None)
        steps.append(result)
        (passed if ok else failed).append(rate)
        if not ok:
            stop_reason = why

    rate = start
    while len(steps) < cfg.sat_steps:
        step(rate)
        if failed and passed:
            break
        rate = rate * cfg.sat_factor if not failed else rate / cfg.sat_factor
    for _ in range(cfg.sat_refine):
        if not (passed and failed):
            break
        lo, hi = max(passed), min(r for r in failed if r > max(passed))
        if hi / lo < 1.05:
            break
        step((lo * hi) ** 0.5)
    good = [s for s in steps if s["passed"]]
    best = max(good, key=lambda s: s["delivered_per_s"], default=None)
    return {
        "steps": steps,
        "max_sustained_per_s": best["delivered_per_s"] if best else 0.0,
        "at_offered_per_s": best["offered_per_s"] if best else None,
        "stopped_because": stop_reason,
    }


def saturate(ctx: Context) -> dict[str, Any]:
    cfg, pool = ctx.cfg, ctx.pool
    out: dict[str, Any] = {
        "latency_limit_ms": cfg.latency_limit_ms,
        "loss_limit": cfg.loss_limit,
        "step_s": cfg.sat_duration,
    }
    # 1:1: pairs a → b, no answer; rate over all pairs
    pairs = _pairs(ctx, cfg.sat_pairs)
    dealt = _deal(pairs, pool.size)
    users = {u[0]: u for u in ctx.users}
    owners = {x: w for w, chunk in enumerate(dealt) for a, _, b, _ in chunk for x in (a, b)}
    by_worker = [[users[x] for a, _, b, _ in chunk for x in (a, b)] for chunk in dealt]
    _open_dealt(ctx, "saturate 1:1: login", by_worker, 2 * len(pairs))
    pool.call("flows", [(chunk, False) for chunk in dealt])

    def one_to_one(rate: float, label: str) -> dict[str, Any]:
        args = [(False, rate * len(chunk) / len(pairs), cfg.sat_duration) for chunk in dealt]
        planned = int(rate * cfg.sat_duration)
        return _measure(ctx, label, "send", args, planned, owners, cfg.sat_duration)

    out["1:1"] = _stepper(ctx, "1:1", cfg.sat_start, one_to_one)
    out["1:1"]["pairs"] = cfg.sat_pairs
    _close(ctx)
    # fan-out: REST to M receivers; the rate counts deliveries
    f_owners = _fanout_setup(ctx, "saturate fanout: login")

    def fan(rate: float, label: str) -> dict[str, Any]:
        per_s = rate / cfg.receivers
        args = [(per_s if w == 0 else 0.0, cfg.sat_duration) for w in range(pool.size)]
        planned = int(per_s * cfg.sat_duration) * cfg.receivers
        return _measure(ctx, label, "fanout", args, planned, f_owners, cfg.sat_duration)

    out["fanout"] = _stepper(ctx, "fanout", cfg.sat_fanout_start, fan)
    out["fanout"]["receivers"] = cfg.receivers
    _close(ctx)
    return out
