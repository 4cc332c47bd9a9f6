"""Latency summaries: exact percentiles over every sample (no sampling, no histogram)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["NAMES", "PERCENTILES", "merge_counts", "summarize_ns"]

# per mille, so ranks are exact integer arithmetic
PERCENTILES = (500, 900, 950, 990, 999)
NAMES = {500: "p50", 900: "p90", 950: "p95", 990: "p99", 999: "p999"}


def summarize_ns(chunks: Iterable[Iterable[int]]) -> dict[str, Any]:
    """Merged samples (ns) → {count, mean_ms, p50_ms, …, max_ms}; ``None`` figures if empty.

    Nearest-rank percentiles: p99 is a value some message really saw.
    """
    samples = sorted(x for chunk in chunks for x in chunk)
    n = len(samples)
    out: dict[str, Any] = {"count": n}
    if n == 0:
        out["mean_ms"] = out["min_ms"] = out["max_ms"] = None
        for p in PERCENTILES:
            out[f"{NAMES[p]}_ms"] = None
        return out
    out["mean_ms"] = sum(samples) / n / 1e6
    out["min_ms"] = samples[0] / 1e6
    for p in PERCENTILES:
        rank = max(1, -(-p * n // 1000))  # ceil(p/1000 · n)
        out[f"{NAMES[p]}_ms"] = samples[min(rank, n) - 1] / 1e6
    out["max_ms"] = samples[-1] / 1e6
    return out


def merge_counts(dicts: Iterable[dict[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            merged[k] = merged.get(k, 0) + v
    return merged
