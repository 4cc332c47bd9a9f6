"""matplotlib charts (optional dependency: ``pip install 'kibitz[bench]'``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_latency", "plot_saturate"]

_BARS = (
    ("p50_ms", "p50"),
    ("p95_ms", "p95"),
    ("p99_ms", "p99"),
    ("p999_ms", "p99.9"),
    ("max_ms", "max"),
)


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise RuntimeError("--plot needs matplotlib: pip install 'kibitz[bench]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _phases(run: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    res = run["results"]
    phases: list[tuple[str, dict[str, Any]]] = []
    if "connect" in res:
        phases.append(("connect\n(login)", res["connect"]["latency"]))
    if "echo" in res:
        phases.append(("echo\n(round trip)", res["echo"]["latency"]))
    if "fanout" in res:
        phases.append(("fanout", res["fanout"]["latency"]))
    for mode in ("1:1", "fanout"):
        steps = ((res.get("saturate") or {}).get(mode) or {}).get("steps", [])
        passing = [s for s in steps if s["passed"]]
        if passing:
            best = passing[-1]
            phases.append((f"saturate {mode}\n@{best['offered_per_s']:.0f}/s", best["latency"]))
    group = res.get("group") or {}
    for name in ("rate", "saturate", "large"):
        p = group.get(name)
        if not p:
            continue
        if name == "saturate":
            passing = [s for s in p["steps"] if s["passed"]]
            if passing:
                best = passing[-1]
                label = f"saturate group\nof {best['members']} @{best['offered_per_s']:.0f}/s"
                phases.append((label, best["latency"]))
        else:
            phases.append((f"group of {p['members']}\n@{p['rate']:g}/s", p["latency"]))
    return phases


def plot_latency(run: dict[str, Any], path: Path) -> Path:
    """Latency percentiles per phase, log scale."""
    plt = _pyplot()
    phases = _phases(run)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(phases) + 2), 4.5))
    width = 0.8 / len(_BARS)
    for i, (key, label) in enumerate(_BARS):
        xs = [n + (i - len(_BARS) / 2 + 0.5) * width for n in range(len(phases))]
        ys = [lat.get(key) or 0.0 for _, lat in phases]
        ax.bar(xs, ys, width, label=label)
    ax.set_xticks(range(len(phases)), [name for name, _ in phases])
    ax.set_yscale("log")
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_title("kibitz bench: latency percentiles per phase")
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(ncols=len(_BARS), fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_saturate(sat: dict[str, Any], path: Path) -> Path:
    """Delivered msg/s against offered msg/s per step, with p99 on a second axis; one
    panel per mode of ``sat`` (mode → step search)."""
    plt = _pyplot()
    modes = [m for m in sat if sat.get(m)]
    fig, axes = plt.subplots(
        1, max(len(modes), 1), figsize=(6.0 * max(len(modes), 1), 4.5), squeeze=False
    )
    for ax, mode in zip(axes[0], modes, strict=False):
        steps = sorted(sat[mode]["steps"], key=lambda s: s["offered_per_s"])  # not run order
        offered = [s["offered_per_s"] for s in steps]
        delivered = [s["delivered_per_s"] for s in steps]
        top = max([*offered, *delivered, 1.0])
        ax.plot([0, top], [0, top], "--", color="grey", label="delivered = offered")
        ax.plot(offered, delivered, "o-", color="tab:blue", label="delivered msg/s")
        bad = [(o, d) for o, d, s in zip(offered, delivered, steps, strict=True) if not s["passed"]]
        if bad:
            ax.scatter(*zip(*bad, strict=True), color="tab:red", zorder=3, label="limit exceeded")
        ax.set_xlabel("offered msg/s")
        ax.set_ylabel("delivered msg/s")
        ax.set_title(f"saturate {mode}: max sustained {sat[mode]['max_sustained_per_s']:.0f}/s")
        ax.grid(alpha=0.3)
        p99 = ax.twinx()
        p99.plot(
            offered,
            [s["latency"]["p99_ms"] or 0.0 for s in steps],
            "s:",
            color="tab:orange",
            label="p99 ms",
        )
        p99.set_ylabel("p99 latency (ms)")
        p99.set_yscale("log")
        lines = ax.get_legend_handles_labels()
        lines2 = p99.get_legend_handles_labels()
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize="small", loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
