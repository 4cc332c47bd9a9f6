"""saturate: raise the offered rate until the server stops keeping up, for 1:1 and fan-out."""

from __future__ import annotations

from typing import Any

from .config import BenchConfig
from .phases import (
    Context,
    close_all,
    deal,
    fanout_setup,
    measure,
    open_dealt,
    pairs_of,
    spread,
    warm,
)
from .placement import pair_placement

__all__ = ["saturate", "stepper"]

_KEEP_UP = 0.9  # a sustained step delivers at least this share of the offered rate


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


def stepper(ctx: Context, mode: str, start: float, run: Any) -> dict[str, Any]:
    """Raise the rate by ``--sat-factor`` until a step fails (lower it first if the first
    step fails), then bisect between the best pass and the first failure. ``run(rate,
    label)`` measures one step at ``rate`` delivered msg/s offered (also used by group)."""
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


_stepper = stepper  # the name the stepper's tests know


def saturate(ctx: Context) -> dict[str, Any]:
    cfg, pool = ctx.cfg, ctx.pool
    out: dict[str, Any] = {
        "latency_limit_ms": cfg.latency_limit_ms,
        "loss_limit": cfg.loss_limit,
        "step_s": cfg.sat_duration,
    }
    # 1:1: pairs a → b, no answer; rate over all pairs
    pairs = pairs_of(ctx, cfg.sat_pairs)
    dealt = deal(pairs, pool.size)
    users = {u[0]: u for u in ctx.users}
    owners = {x: w for w, chunk in enumerate(dealt) for a, _, b, _ in chunk for x in (a, b)}
    by_worker = [[users[x] for a, _, b, _ in chunk for x in (a, b)] for chunk in dealt]
    placement = pair_placement(pairs, ctx.nodes)
    open_dealt(ctx, "saturate 1:1: login", by_worker, 2 * len(pairs), placement)
    where = spread(ctx, pairs)
    pool.call("flows", [(chunk, False) for chunk in dealt])

    def one_to_one_args(rate: float, seconds: float) -> list[Any]:
        return [(False, rate * len(chunk) / len(pairs), seconds) for chunk in dealt]

    def one_to_one(rate: float, label: str) -> dict[str, Any]:
        args = one_to_one_args(rate, cfg.sat_duration)
        planned = int(rate * cfg.sat_duration)
        return measure(ctx, label, "send", args, planned, owners, cfg.sat_duration)

    warm(ctx, "send", one_to_one_args(cfg.sat_start, cfg.warmup))

    out["1:1"] = _stepper(ctx, "1:1", cfg.sat_start, one_to_one)
    out["1:1"]["pairs"] = cfg.sat_pairs
    out["1:1"].update(where)
    close_all(ctx)
    # fan-out: REST to M receivers; the rate counts deliveries
    f_owners = fanout_setup(ctx, "saturate fanout: login")
    f_where = spread(ctx)

    def fan_args(rate: float, seconds: float) -> list[Any]:
        return [(rate / cfg.receivers if w == 0 else 0.0, seconds) for w in range(pool.size)]

    def fan(rate: float, label: str) -> dict[str, Any]:
        planned = int(rate / cfg.receivers * cfg.sat_duration) * cfg.receivers
        args = fan_args(rate, cfg.sat_duration)
        return measure(ctx, label, "fanout", args, planned, f_owners, cfg.sat_duration)

    warm(ctx, "fanout", fan_args(cfg.sat_fanout_start, cfg.warmup))

    out["fanout"] = _stepper(ctx, "fanout", cfg.sat_fanout_start, fan)
    out["fanout"]["receivers"] = cfg.receivers
    out["fanout"].update(f_where)
    close_all(ctx)
    return out
