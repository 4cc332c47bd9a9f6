"""What a run leaves behind: a Markdown summary, the JSON of every figure, PNG charts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .config import TARGETS, target_issue

_CONTENDED_PCT = 10.0

__all__ = ["check_targets", "markdown", "traffic_rows", "write_json", "write_plots"]


def _f(v: Any, digits: int = 1, unit: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}{unit}"
    if isinstance(v, int):
        return f"{v:,}{unit}"
    return f"{v}{unit}"


def _ms(v: Any) -> str:
    return _f(v, 2 if v is not None and v < 100 else 0)


def _srv(p: dict[str, Any], key: str, digits: int = 0) -> str:
    """A server figure: one server's, or a cluster's sum followed by each node's."""
    total = _f(p.get(key), digits)
    nodes = p.get("nodes")
    if not nodes:
        return total
    return f"{total} ({' + '.join(_f(n.get(key), digits) for n in nodes)})"


def _servers(run: dict[str, Any]) -> str:
    """What served the run: one server (as before) or N nodes, and their CPUs."""
    srv, cfg = run["server"], run["config"]
    nodes = srv.get("nodes") or []
    if not srv.get("cluster") and len(nodes) <= 1:
        return f"{srv['database']}, server CPU {_f(cfg['server_cpu'])}"
    if not srv["local"]:
        return f"{len(nodes)} nodes (remote)"
    cpus = ", ".join(_f(n.get("cpu")) for n in nodes)
    return f"{len(nodes)} nodes (local, postgresql + redis), node CPUs {cpus}"


def _lookup(results: dict[str, Any], scenario: str, path: str) -> Any:
    node: Any = results.get(scenario)
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def check_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the measured value and whether it is met: all of an issue's
    targets once any of its scenarios ran (issue 5's four, issue 10's group)."""
    issues = {target_issue(name) for name in results}
    rows = []
    for scenario, path, op, target, label in TARGETS:
        issue = target_issue(scenario)
        if issue not in issues:
            continue
        value = _lookup(results, scenario, path)
        met: bool | None = None
        if isinstance(value, int | float):
            met = value >= target if op == ">=" else value <= target
        rows.append(
            {
                "scenario": scenario,
                "issue": issue,
                "figure": path,
                "target": f"{op} {target:g}",
                "label": label,
                "measured": value,
                "met": met,
            }
        )
    return rows


def traffic_rows(results: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, phase figures) for every traffic phase, in run order."""
    if "echo" in results:
        yield "echo (round trip)", results["echo"]
    if "fanout" in results:
        yield "fanout", results["fanout"]
    sat = results.get("saturate") or {}
    for mode in ("1:1", "fanout"):
        for step in (sat.get(mode) or {}).get("steps", []):
            mark = "✓" if step["passed"] else "✗"
            yield f"saturate {mode} step {step['step']} {mark}", step
    group = results.get("group") or {}
    if "rate" in group:
        yield f"group of {group['rate']['members']:,}", group["rate"]
    for step in (group.get("saturate") or {}).get("steps", []):
        mark = "✓" if step["passed"] else "✗"
        yield f"saturate group of {step['members']:,} step {step['step']} {mark}", step
    if "large" in group:
        yield f"group of {group['large']['members']:,}", group["large"]


def _sustained(results: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(mode, step search) of every saturate mode that ran, group's included."""
    sat = results.get("saturate") or {}
    for mode in ("1:1", "fanout"):
        if sat.get(mode):
            yield mode, sat[mode]
    group_sat = (results.get("group") or {}).get("saturate")
    if group_sat:
        yield f"group of {group_sat['members']:,}", group_sat


def markdown(run: dict[str, Any]) -> str:
    res = run["results"]
    m, cfg = run["machine"], run["config"]
    out = [
        f"## kibitz bench — {run['started_at']}",
        "",
        f"{m['cpu_model']} × {m['cpus']}, Python {m['python']}, kibitz {m['kibitz_version']}"
        f"{' @ ' + m['git_commit'] if m['git_commit'] else ''}; "
        f"{_servers(run)}, generator CPU {_f(cfg['client_cpu'])} × {cfg['procs']} process(es).",
        "",
    ]
    c = res.get("connect")
    if c:
        out += [
            "| sessions | logged in | failures | logins/s | login p50 ms | login p99 ms "
            "| server RSS MB | RSS/session KB | server CPU % | others on its core % "
            "| generator CPU % |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {_f(c['sessions'])} | {_f(c['connected'])} | {sum(c['failures'].values())} "
            f"| {_f(c['logins_per_s'], 0)} | {_ms(c['latency']['p50_ms'])} "
            f"| {_ms(c['latency']['p99_ms'])} | {_srv(c, 'server_rss_mb', 1)} "
            f"| {_f(c['rss_per_session_kb'])} | {_srv(c, 'server_cpu_pct')} "
            f"| {_srv(c, 'other_load_pct')} | {_f(c['generator_cpu_pct'], 0)} |",
            "",
        ]
    rows = list(traffic_rows(res))
    if rows:
        out += [
            "| phase | offered/s | delivered/s | p50 ms | p95 ms | p99 ms | max ms | lost "
            "| not acked | server CPU % | others on its core % | generator CPU % |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for label, p in rows:
            lat = p["latency"]
            offered = p.get("offered_per_s")
            if offered is None and "pairs" in p:
                offered = 2 * p["pairs"] * p["rate_per_pair"]
            out.append(
                f"| {label} | {_f(offered, 0)} | {_f(p['delivered_per_s'], 0)} "
                f"| {_ms(lat['p50_ms'])} | {_ms(lat['p95_ms'])} | {_ms(lat['p99_ms'])} "
                f"| {_ms(lat['max_ms'])} | {p['lost']} | {p['unacked'] + p['refused']} "
                f"| {_srv(p, 'server_cpu_pct')} | {_srv(p, 'other_load_pct')} "
                f"| {_f(p['generator_cpu_pct'], 0)} |"
            )
        out.append("")
    sustained = list(_sustained(res))
    if sustained:
        out += [
            "| saturate | max sustained delivered msg/s | at offered/s | stopped because |",
            "|---|---:|---:|---|",
        ]
        for mode, s in sustained:
            out.append(
                f"| {mode} | {_f(s['max_sustained_per_s'], 0)} "
                f"| {_f(s['at_offered_per_s'], 0)} | {s['stopped_because']} |"
            )
        out.append("")
    targets = run.get("targets") or []
    for issue in sorted({t.get("issue", 5) for t in targets}):
        out += [f"| target (issue {issue}) | wanted | measured | met |", "|---|---:|---:|:-:|"]
        for t in targets:
            if t.get("issue", 5) != issue:
                continue
            mark = {True: "✓", False: "✗", None: "–"}[t["met"]]
            value = t["measured"]
            shown = _f(value, 2) if isinstance(value, float) else _f(value)
            out.append(f"| {t['scenario']}: {t['label']} | {t['target']} | {shown} | {mark} |")
        out.append("")
    notes = _notes(run)
    if notes:
        out += [f"- {n}" for n in notes] + [""]
    return "\n".join(out)


def _notes(run: dict[str, Any]) -> list[str]:
    notes = []
    phases = list(traffic_rows(run["results"]))
    if "connect" in run["results"]:
        phases.insert(0, ("connect", run["results"]["connect"]))
    busy = [
        f"{label} ({p['other_load_pct']:.0f}%)"
        for label, p in phases
        if (p.get("other_load_pct") or 0) > _CONTENDED_PCT
    ]
    if busy:
        notes.append(
            "other processes used the server's core during: "
            + ", ".join(busy)
            + " — the machine was shared; rerun those figures on a quiet machine."
        )
    for label, p in traffic_rows(run["results"]):
        if p["generator_cpu_pct"] and p["generator_cpu_pct"] > 80 * run["config"]["procs"]:
            notes.append(
                f"{label}: the generator used {p['generator_cpu_pct']:.0f}% CPU — "
                "it may be the bottleneck (try --procs on more cores)."
            )
        if p["errors"]:
            notes.append(f"{label}: errors {p['errors']}")
        if p["not_sent"]:
            notes.append(
                f"{label}: {p['not_sent']} deliveries not sent: the generator's backlog was "
                "full (socket buffer, or 256 REST sends in flight)."
            )
    spread = _spread(run["results"])
    if spread:
        notes.append("sessions per node: " + "; ".join(spread) + ".")
    c = run["results"].get("connect")
    if c and c["failures"]:
        notes.append(f"connect failures: {c['failures']}")
    if not run["server"]["monitored"]:
        notes.append("server CPU/RSS not measured (remote server, or psutil missing).")
    return notes


def _spread(results: dict[str, Any]) -> list[str]:
    """Where each phase's sessions were, with several nodes (pairs: how many cross nodes)."""
    sat = results.get("saturate") or {}
    phases = [(name, results.get(name)) for name in ("connect", "echo", "fanout")]
    phases += [(f"saturate {mode}", sat.get(mode)) for mode in ("1:1", "fanout")]
    group = results.get("group") or {}
    phases += [(f"group {name}", group.get(name)) for name in ("rate", "saturate", "large")]
    out = []
    for name, p in phases:
        if not p or "sessions_by_node" not in p:
            continue
        text = f"{name} {' + '.join(str(n) for n in p['sessions_by_node'])}"
        if "cross_node_pairs" in p:
            pairs = p.get("pairs", 0)
            text += f" ({p['cross_node_pairs']} of {pairs} pairs across nodes)"
        out.append(text)
    return out


def write_json(run: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run, indent=2, sort_keys=False) + "\n")


def write_plots(run: dict[str, Any], directory: Path) -> list[Path]:
    """PNG charts; raises ``RuntimeError`` with an install hint without matplotlib."""
    from .plots import plot_latency, plot_saturate

    directory.mkdir(parents=True, exist_ok=True)
    written = [plot_latency(run, directory / "latency.png")]
    sustained = dict(_sustained(run["results"]))
    if sustained:
        written.append(plot_saturate(sustained, directory / "saturate.png"))
    return written
