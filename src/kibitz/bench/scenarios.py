"""The scenarios, run by the coordinator over the worker pool (see ``phases``)."""

from __future__ import annotations

import time
from typing import Any

from .group import group
from .phases import (
    Context,
    close_all,
    deal,
    fanout_setup,
    gen_cpu,
    measure,
    open_dealt,
    open_sessions,
    pairs_of,
    spread,
    warm,
)
from .placement import pair_placement
from .saturate import saturate
from .stats import merge_counts, summarize_ns

__all__ = ["Context", "run_scenario"]


def run_scenario(ctx: Context, name: str) -> dict[str, Any]:
    scenarios = {
        "connect": connect,
        "echo": echo,
        "fanout": fanout,
        "saturate": saturate,
        "group": group,
    }
    return scenarios[name](ctx)


def connect(ctx: Context) -> dict[str, Any]:
    cfg, mon = ctx.cfg, ctx.monitor
    rss0, nodes0 = mon.rss(), mon.node_rss()
    mark = mon.mark()
    owners, results = open_sessions(ctx, "connect", ctx.users[: cfg.sessions], cfg.ramp)
    usage = mon.since(mark)
    connected = sum(r["connected"] for r in results)
    elapsed = max((r["elapsed_s"] for r in results), default=0.0)
    if cfg.hold > 0:
        time.sleep(cfg.hold)  # hold the sessions, then read the server's memory
    rss1, nodes1 = mon.rss(), mon.node_rss()
    if nodes0 is not None and nodes1 is not None:
        for entry, before, after in zip(usage["nodes"], nodes0, nodes1, strict=True):
            entry["server_rss_before_mb"] = before / 2**20 if before is not None else None
            entry["server_rss_mb"] = after / 2**20 if after is not None else None
    out: dict[str, Any] = {
        "sessions": cfg.sessions,
        "connected": connected,
        "failures": merge_counts(r["failures"] for r in results),
        "ramp_per_s": cfg.ramp,
        "elapsed_s": elapsed,
        "logins_per_s": connected / elapsed if elapsed > 0 else 0.0,
        "latency": summarize_ns(r["connect_ns"] for r in results),
        **usage,
        "generator_cpu_pct": gen_cpu(results),
        "server_rss_before_mb": rss0 / 2**20 if rss0 is not None else None,
        "server_rss_mb": rss1 / 2**20 if rss1 is not None else None,
        "rss_per_session_kb": (rss1 - rss0) / 1024 / connected
        if rss0 is not None and rss1 is not None and connected
        else None,
        **spread(ctx),
    }
    close_all(ctx)
    del owners
    return out


def echo(ctx: Context) -> dict[str, Any]:
    cfg = ctx.cfg
    pairs = pairs_of(ctx, cfg.pairs)
    dealt = deal(pairs, ctx.pool.size)
    users = {u[0]: u for u in ctx.users}
    # both sides of a pair in one worker: the round trip is timed by one clock
    owners: dict[int, int] = {}
    for w, chunk in enumerate(dealt):
        for a, _, b, _ in chunk:
            owners[a] = owners[b] = w
    by_worker = [[users[x] for a, _, b, _ in chunk for x in (a, b)] for chunk in dealt]
    flat = [u for chunk in by_worker for u in chunk]
    open_dealt(ctx, "echo: login", by_worker, len(flat), pair_placement(pairs, ctx.nodes))
    where = spread(ctx, pairs)
    ctx.pool.call("flows", [(chunk, True) for chunk in dealt])
    warm(ctx, "send", [(True, len(chunk) * cfg.echo_rate, cfg.warmup) for chunk in dealt])
    args = [(True, len(chunk) * cfg.echo_rate, cfg.duration) for chunk in dealt]
    planned = int(cfg.pairs * cfg.echo_rate * cfg.duration)
    out = measure(ctx, "echo", "send", args, planned, owners, cfg.duration)
    out.update(
        pairs=cfg.pairs,
        rate_per_pair=cfg.echo_rate,
        duration_s=cfg.duration,
        latency_is="round trip",
        **where,
    )
    close_all(ctx)
    return out


def fanout(ctx: Context) -> dict[str, Any]:
    cfg = ctx.cfg
    owners = fanout_setup(ctx, "fanout: login")
    where = spread(ctx)
    warm(ctx, "fanout", [(cfg.rate if w == 0 else 0.0, cfg.warmup) for w in range(ctx.pool.size)])
    args = [(cfg.rate if w == 0 else 0.0, cfg.duration) for w in range(ctx.pool.size)]
    planned = int(cfg.rate * cfg.duration) * cfg.receivers
    out = measure(ctx, "fanout", "fanout", args, planned, owners, cfg.duration)
    out.update(
        receivers=cfg.receivers,
        rate=cfg.rate,
        duration_s=cfg.duration,
        offered_per_s=cfg.rate * cfg.receivers,
        latency_is="send to receipt",
        **where,
    )
    close_all(ctx)
    return out
