"""saturate's stepping: up until a failure, down when the first step fails, then bisect."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kibitz.bench.config import BenchConfig
from kibitz.bench.saturate import _stepper


def fake_server(capacity: float) -> Any:
    def run(rate: float, label: str) -> dict[str, Any]:
        delivered = min(rate, capacity)
        p99 = 50.0 if rate <= capacity else 5000.0
        return {
            "latency": {"p99_ms": p99},
            "acked": int(rate),
            "unacked": 0,
            "refused": 0,
            "lost": 0,
            "not_sent": 0,
            "delivered_per_s": delivered,
        }

    return run


def stepped(capacity: float, start: float, **cfg: Any) -> dict[str, Any]:
    ctx: Any = SimpleNamespace(cfg=BenchConfig(**cfg))
    return _stepper(ctx, "1:1", start, fake_server(capacity))


def test_steps_up_until_a_failure_then_bisects() -> None:
    out = stepped(3000, 1000, sat_factor=1.5, sat_steps=8, sat_refine=2)
    offered = [s["offered_per_s"] for s in out["steps"]]
    assert offered[:4] == [1000, 1500, 2250, 3375]
    assert len(offered) == 6 and all(2250 < r < 3375 for r in offered[4:])
    assert 2250 <= out["max_sustained_per_s"] <= 3000
    assert out["stopped_because"].startswith("p99")


def test_steps_down_when_the_first_step_fails() -> None:
    out = stepped(500, 1000, sat_factor=2.0, sat_steps=8, sat_refine=0)
    assert [s["offered_per_s"] for s in out["steps"]] == [1000, 500]
    assert out["max_sustained_per_s"] == 500


def test_a_server_that_always_keeps_up_ends_at_the_step_limit() -> None:
    out = stepped(1e9, 100, sat_factor=2.0, sat_steps=3)
    assert [s["offered_per_s"] for s in out["steps"]] == [100, 200, 400]
    assert out["max_sustained_per_s"] == 400
    assert out["stopped_because"] == "reached --sat-steps 3"


def test_falling_behind_fails_a_step_even_with_a_low_p99() -> None:
    def lagging(rate: float, label: str) -> dict[str, Any]:
        step = fake_server(1e9)(rate, label)
        step["delivered_per_s"] = 0.5 * rate
        return step

    ctx: Any = SimpleNamespace(cfg=BenchConfig(sat_steps=2, sat_refine=0))
    out = _stepper(ctx, "fanout", 1000, lagging)
    assert not any(s["passed"] for s in out["steps"])
    assert "of offered" in out["stopped_because"]
