"""``kibitz bench`` end to end for a few seconds with tiny N: all four scenarios against a
fresh ``kibitz serve``, the JSON holds every figure, the plots are written, nothing is lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TINY = [
    "--sessions", "20", "--ramp", "0", "--hold", "0",
    "--pairs", "3", "--duration", "1",
    "--receivers", "4", "--rate", "5",
    "--sat-pairs", "3", "--sat-start", "50", "--sat-fanout-start", "40",
    "--sat-steps", "2", "--sat-duration", "1", "--drain-timeout", "5",
]  # fmt: skip


def test_bench_smoke(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out_json, plots = tmp_path / "bench.json", tmp_path / "plots"
    cmd = [sys.executable, "-m", "kibitz", "bench", *TINY, "--quiet"]
    cmd += ["--json", str(out_json), "--plot", str(plots)]
    done = subprocess.run(cmd, capture_output=True, timeout=60, text=True)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert "| target (issue 5) |" in done.stdout

    run = json.loads(out_json.read_text())
    assert {"machine", "config", "server", "generator", "results", "targets"} <= run.keys()
    res = run["results"]
    assert list(res) == ["connect", "echo", "fanout", "saturate"]

    c = res["connect"]
    assert c["connected"] == 20 and not c["failures"]
    assert c["logins_per_s"] > 0 and c["latency"]["p99_ms"] is not None
    assert c["rss_per_session_kb"] is not None and c["server_rss_mb"] > 0

    phases = [res["echo"], res["fanout"]]
    for mode in ("1:1", "fanout"):
        steps = res["saturate"][mode]["steps"]
        assert steps, mode
        phases += steps
    for p in phases:
        assert p["acked"] > 0 and p["received"] >= p["acked"]
        assert (p["lost"], p["unacked"], p["refused"], p["duplicates"]) == (0, 0, 0, 0), p
        assert p["latency"]["p50_ms"] is not None and p["server_cpu_pct"] is not None
    assert res["echo"]["received"] == 2 * 3 * 1  # 3 pairs × 1 s × (ping + pong)
    assert res["fanout"]["received"] == 5 * 4  # 5 sends × 4 receivers
    assert res["saturate"]["1:1"]["max_sustained_per_s"] > 0

    assert (plots / "latency.png").stat().st_size > 0
    assert (plots / "saturate.png").stat().st_size > 0
