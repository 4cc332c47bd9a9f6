"""``kibitz bench --cluster-nodes 2`` end to end for a few seconds with tiny N: two local
nodes on a fresh (empty) PostgreSQL database and one Redis, every pair split over the two
nodes, receivers on both, and nothing lost on the way from one node to the other.

Needs KIBITZ_TEST_DATABASE_URL (a PostgreSQL server; the test makes a database of its own
there) and KIBITZ_TEST_REDIS_URL; skips with the reason otherwise (``.ci/run`` sets both).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.conftest import PG_URL, REDIS_URL, admin_db, unavailable

from .test_smoke import TINY


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A fresh, empty database next to KIBITZ_TEST_DATABASE_URL's: the bench creates its
    tables (the first node's ``app create`` migrates)."""
    reason = unavailable()
    if reason:
        pytest.skip(f"cluster bench: {reason}")
    assert PG_URL is not None
    name = f"kibitz_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin_db(f"CREATE DATABASE {name}")
    except Exception as exc:
        pytest.skip(f"cluster bench: PostgreSQL at {PG_URL} refused CREATE DATABASE: {exc}")
    yield f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    admin_db(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _pinning() -> list[str]:
    if shutil.which("taskset") and len(os.sched_getaffinity(0)) >= 2:
        cpus = sorted(os.sched_getaffinity(0))[:2]
        return ["--server-cpus", f"{cpus[0]},{cpus[1]}"]
    return []


def test_two_node_cluster_smoke(tmp_path: Path, empty_database: str) -> None:
    assert REDIS_URL is not None
    out_json = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "kibitz", "bench", *TINY, "--quiet", "--json", str(out_json)]
    cmd += ["--cluster-nodes", "2", "--database-url", empty_database, "--redis-url", REDIS_URL]
    cmd += _pinning()
    done = subprocess.run(cmd, capture_output=True, timeout=120, text=True)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert "2 nodes (local, postgresql + redis)" in done.stdout
    assert "sessions per node:" in done.stdout

    run = json.loads(out_json.read_text())
    server = run["server"]
    assert server["cluster"] and server["database"] == "postgresql" and server["monitored"]
    nodes = server["nodes"]
    assert [n["node"] for n in nodes] == [0, 1]
    assert len({n["rest"] for n in nodes}) == 2 and all(n["pid"] for n in nodes)
    res = run["results"]
    assert list(res) == ["connect", "echo", "fanout", "saturate"]

    c = res["connect"]
    assert c["connected"] == 20 and not c["failures"]
    assert c["sessions_by_node"] == [10, 10]
    assert all(n["server_rss_mb"] > 0 and n["server_rss_before_mb"] > 0 for n in c["nodes"])
    assert c["server_rss_mb"] == pytest.approx(sum(n["server_rss_mb"] for n in c["nodes"]))

    # every pair has its sender on one node and its receiver on the other
    assert res["echo"]["sessions_by_node"] == [3, 3] and res["echo"]["cross_node_pairs"] == 3
    sat = res["saturate"]
    assert sat["1:1"]["sessions_by_node"] == [3, 3] and sat["1:1"]["cross_node_pairs"] == 3
    assert res["fanout"]["sessions_by_node"] == [2, 2]
    assert sat["fanout"]["sessions_by_node"] == [2, 2]

    phases = [res["echo"], res["fanout"], *sat["1:1"]["steps"], *sat["fanout"]["steps"]]
    for p in phases:
        assert p["acked"] > 0 and p["received"] >= p["acked"]
        assert (p["lost"], p["unacked"], p["refused"], p["duplicates"]) == (0, 0, 0, 0), p
        assert p["server_cpu_pct"] is not None and len(p["nodes"]) == 2
        assert p["server_cpu_pct"] == pytest.approx(sum(n["server_cpu_pct"] for n in p["nodes"]))
    assert res["echo"]["received"] == 2 * 3 * 1  # 3 pairs × 1 s × (ping + pong), across nodes
    assert res["fanout"]["received"] == 5 * 4  # 5 sends (over both nodes) × 4 receivers

    import redis

    left = redis.Redis.from_url(REDIS_URL).keys(server["redis_prefix"] + "*")
    assert left == [], "the run's Redis keys are cleaned up"
