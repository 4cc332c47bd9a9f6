"""``kibitz bench --scenario group`` for a few seconds with tiny groups: a member sends
GROUPCHAT over msync, every other member pulls each message exactly once; the JSON, the
issue-10 targets and the plots carry the group's phases. Also the recorder's bookkeeping
of one group send as M − 1 deliveries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kibitz.bench.traffic import GROUP, Recorder, delivery_key, group_peer

TINY = [
    "--scenario", "group",
    "--group-members", "6", "--group-rate", "5", "--duration", "1",
    "--group-sat-start", "100", "--sat-steps", "2", "--sat-refine", "0", "--sat-duration", "1",
    "--group-large-members", "25", "--group-large-rate", "2",
    "--warmup", "0.5", "--drain-timeout", "5",
]  # fmt: skip


def test_group_bench_smoke(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out_json, plots = tmp_path / "bench.json", tmp_path / "plots"
    cmd = [sys.executable, "-m", "kibitz", "bench", *TINY, "--quiet"]
    cmd += ["--json", str(out_json), "--plot", str(plots)]
    done = subprocess.run(cmd, capture_output=True, timeout=90, text=True)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert "| target (issue 10) |" in done.stdout
    assert "| target (issue 5) |" not in done.stdout  # no issue-5 scenario ran

    run = json.loads(out_json.read_text())
    res = run["results"]
    assert list(res) == ["group"]
    g = res["group"]
    assert g["phases"] == ["rate", "saturate", "large"]
    steps = g["saturate"]["steps"]
    assert len(steps) == 2 and g["saturate"]["members"] == 6
    for p in [g["rate"], *steps, g["large"]]:
        assert (p["lost"], p["unacked"], p["refused"], p["duplicates"]) == (0, 0, 0, 0), p
        assert p["received"] == p["acked"] == p["sent"] > 0
        assert (p["stale"], p["sessions_lost"], p["errors"]) == (0, 0, {}), p
        assert p["latency"]["count"] == p["received"] and p["server_cpu_pct"] is not None
    assert g["rate"]["received"] == 5 * 5  # 5 sends × 5 members besides the sender
    assert g["rate"]["offered_per_s"] == 25
    assert g["large"]["received"] == 2 * 24 and g["large"]["members"] == 25
    assert g["saturate"]["max_sustained_per_s"] > 0

    targets = {t["figure"]: t for t in run["targets"]}
    assert all(t["scenario"] == "group" and t["issue"] == 10 for t in targets.values())
    assert targets["rate.lost"]["met"] and targets["large.duplicates"]["met"]
    assert (
        targets["saturate.max_sustained_per_s"]["measured"] == g["saturate"]["max_sustained_per_s"]
    )

    assert (plots / "latency.png").stat().st_size > 0
    assert (plots / "saturate.png").stat().st_size > 0


class _Session:
    """Just what ``Recorder.send`` touches."""

    idx = 7
    open = True

    def write(self, frame: bytes) -> bool:
        return True


class _Template:
    def frame(self, local_id: int, marker: bytes) -> bytes:
        return marker


def test_one_group_send_is_one_delivery_per_other_member() -> None:
    rec = Recorder(local_base=1 << 62)
    peer = group_peer(0)
    rec.groups[peer] = (1, 2, 3)
    rec.local.update({1, 2})  # member 3 lives in another worker
    rec.arm(4)
    session, tmpl = _Session(), _Template()
    rec.send(session, tmpl, peer, GROUP, stamp=0, seq=0)  # type: ignore[arg-type]
    rec.send(session, tmpl, peer, GROUP, stamp=0, seq=1)  # type: ignore[arg-type]
    assert rec.sent == 6 and len(rec.pending) == 2
    first, second = list(rec.pending)
    rec.waiting = set()
    rec.acked(session, first, True, "")  # type: ignore[arg-type]
    assert rec.acked_keys == [delivery_key(r, 7, 0) for r in (1, 2, 3)]
    assert rec.waiting == {delivery_key(1, 7, 0), delivery_key(2, 7, 0)}  # the local ones
    assert len(rec.ack_latency) == 1  # one ack, one sample
    rec.acked(session, second, False, "not in group or chatroom")  # type: ignore[arg-type]
    assert rec.failed == 3 and rec.errors == {"send refused: not in group or chatroom": 1}
