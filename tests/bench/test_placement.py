"""Several nodes: which node each session and REST send goes to (traffic crosses nodes), the
URLs of remote nodes, the options that must fit together, and one cluster's summed figures."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from kibitz.bench.cluster import combine
from kibitz.bench.command import bench
from kibitz.bench.config import BenchConfig
from kibitz.bench.placement import (
    node_urls,
    pair_nodes,
    pair_placement,
    parse_cpus,
    rest_node,
    round_robin,
)
from kibitz.bench.target import Endpoint

PG = "postgresql://u:pw@127.0.0.1/db"
REDIS = "redis://127.0.0.1:6379/15"


def pairs(n: int) -> list[tuple[int, str, int, str]]:
    return [(2 * i, f"u{2 * i}", 2 * i + 1, f"u{2 * i + 1}") for i in range(n)]


# -- placement ---------------------------------------------------------------------------


def test_one_node_puts_everything_on_node_0() -> None:
    assert {pair_nodes(i, 1) for i in range(5)} == {(0, 0)}
    assert set(round_robin(list(range(7)), 1).values()) == {0}
    assert {rest_node(n, 1) for n in range(5)} == {0}


def test_pair_i_sends_from_node_i_to_node_i_plus_1() -> None:
    assert [pair_nodes(i, 2) for i in range(4)] == [(0, 1), (1, 0), (0, 1), (1, 0)]
    assert [pair_nodes(i, 3) for i in range(4)] == [(0, 1), (1, 2), (2, 0), (0, 1)]


@pytest.mark.parametrize("nodes", [2, 3, 5])
def test_every_pair_crosses_nodes_and_the_nodes_share_the_load(nodes: int) -> None:
    where = pair_placement(pairs(10 * nodes), nodes)
    assert all(where[a] != where[b] for a, _, b, _ in pairs(10 * nodes))
    per_node = [list(where.values()).count(n) for n in range(nodes)]
    assert per_node == [20] * nodes  # 10·N pairs, 2 users each, evenly


def test_receivers_and_logins_go_round_robin() -> None:
    assert round_robin([5, 9, 11, 12, 20], 2) == {5: 0, 9: 1, 11: 0, 12: 1, 20: 0}
    assert list(round_robin(list(range(6)), 3).values()) == [0, 1, 2, 0, 1, 2]


def test_rest_sends_alternate_over_the_nodes() -> None:
    assert [rest_node(n, 2) for n in range(5)] == [0, 1, 0, 1, 0]
    assert [rest_node(n, 3) for n in range(4)] == [0, 1, 2, 0]


def test_node_urls_pair_by_position_or_derive_the_websocket() -> None:
    rests = ["http://a:5280/", "https://b:443"]
    assert node_urls(rests, []) == [
        ("http://a:5280", "ws://a:5280/websocket"),
        ("https://b:443", "wss://b:443/websocket"),
    ]
    assert node_urls(rests, ["ws://x/ws", "ws://y/ws"]) == [
        ("http://a:5280", "ws://x/ws"),
        ("https://b:443", "ws://y/ws"),
    ]
    with pytest.raises(ValueError, match="one --im-server per --rest-server"):
        node_urls(rests, ["ws://x/ws"])


def test_remote_endpoints_share_the_app() -> None:
    cfg = BenchConfig(
        rest_servers=("http://a:1", "http://b:2"),
        app_key="org#app",
        client_id="id",
        client_secret="secret",
    )
    eps = Endpoint.remote(cfg)
    assert [(e.rest, e.ws) for e in eps] == [
        ("http://a:1", "ws://a:1/websocket"),
        ("http://b:2", "ws://b:2/websocket"),
    ]
    assert {(e.org, e.app, e.client_id) for e in eps} == {("org", "app", "id")}
    assert cfg.node_count == 2 and not cfg.local


def test_parse_cpus() -> None:
    assert parse_cpus("0,1") == (0, 1)
    assert parse_cpus("3") == (3,)
    for bad in ("0,x", "-1", ""):
        with pytest.raises(ValueError):
            parse_cpus(bad)


# -- configuration -----------------------------------------------------------------------


def test_a_valid_cluster_config() -> None:
    cfg = BenchConfig(cluster_nodes=2, database_url=PG, redis_url=REDIS, server_cpus=(0, 1))
    cfg.validate()
    assert cfg.node_count == 2 and cfg.local
    assert cfg.node_cpus() == [0, 1]
    unpinned = BenchConfig(cluster_nodes=2, database_url=PG, redis_url=REDIS)
    assert unpinned.node_cpus() == [None, None]
    one = BenchConfig(cluster_nodes=1, database_url=PG, redis_url=REDIS, server_cpu=1)
    one.validate()
    assert one.node_cpus() == [1]  # --server-cpu keeps its meaning for one node
    public = BenchConfig(database_url=PG, redis_url="redis://:pw@host:6379/0").public()
    assert public["database_url"] == "postgresql://***@127.0.0.1/db"
    assert public["redis_url"] == "redis://***@host:6379/0"


def test_one_server_stays_as_it_was() -> None:
    cfg = BenchConfig()
    cfg.validate()
    assert cfg.node_count == 1 and cfg.local and cfg.node_cpus() == [None]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cluster_nodes": 2, "redis_url": REDIS}, "PostgreSQL --database-url"),
        ({"cluster_nodes": 2, "database_url": "sqlite:///x.db", "redis_url": REDIS}, "PostgreSQL"),
        ({"cluster_nodes": 2, "database_url": PG}, "--redis-url"),
        ({"cluster_nodes": 2, "database_url": PG, "redis_url": "http://x"}, "--redis-url"),
        (
            {"cluster_nodes": 2, "database_url": PG, "redis_url": REDIS, "server_cpus": (0,)},
            "one per node",
        ),
        (
            {"cluster_nodes": 2, "database_url": PG, "redis_url": REDIS, "server_cpu": 0},
            "--server-cpus",
        ),
        (
            {"cluster_nodes": 2, "database_url": PG, "redis_url": REDIS, "rest_servers": ("h",)},
            "drop --rest-server",
        ),
        ({"redis_url": REDIS}, "--cluster-nodes"),
        ({"server_cpus": (0, 1)}, "--server-cpu"),
        (
            {"rest_servers": ("http://a", "http://b"), "im_servers": ("ws://a/websocket",)},
            "one --im-server per --rest-server",
        ),
        ({"im_servers": ("ws://a/websocket",)}, "need --rest-server"),
    ],
)
def test_options_that_do_not_fit_together(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BenchConfig(**options).validate()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cluster-nodes", "2", "--redis-url", REDIS], "PostgreSQL --database-url"),
        (["--cluster-nodes", "2", "--database-url", PG], "--redis-url"),
        (
            ["--rest-server", "http://a:1", "--rest-server", "http://b:2", "--im-server", "ws://a"],
            "2 --rest-server but 1 --im-server",
        ),
        (["--server-cpus", "0,x"], "comma-separated"),
    ],
)
def test_the_command_refuses_them_before_starting_anything(args: list[str], message: str) -> None:
    done = CliRunner().invoke(bench, args)
    assert done.exit_code == 2, done.output
    assert message in done.output


# -- a cluster's figures -----------------------------------------------------------------


def node(cpu_pct: float, busy: float, other: float | None) -> dict[str, float | None]:
    return {"server_cpu_pct": cpu_pct, "server_core_busy_pct": busy, "other_load_pct": other}


def test_pinned_nodes_sum_their_cpu_and_their_cores() -> None:
    out = combine([node(80, 90, 10), node(60, 75, 15)], [0, 1], [100 * 2**20, 50 * 2**20])
    assert out["server_cpu_pct"] == 140
    assert out["server_core_busy_pct"] == 165
    assert out["other_load_pct"] == 25
    assert [(n["node"], n["cpu"], n["other_load_pct"]) for n in out["nodes"]] == [
        (0, 0, 10),
        (1, 1, 15),
    ]
    assert [n["server_rss_mb"] for n in out["nodes"]] == [100, 50]


def test_nodes_on_one_core_count_that_core_once() -> None:
    out = combine([node(40, 90, 50), node(30, 90, 60)], [0, 0], [None, None])
    assert out["server_core_busy_pct"] == 90 and out["other_load_pct"] == 20
    assert [n["other_load_pct"] for n in out["nodes"]] == [None, None]


def test_unpinned_nodes_report_the_machine_and_no_others() -> None:
    out = combine([node(40, 70, None), node(30, 70, None)], [None, None], [1, 1])
    assert out["server_cpu_pct"] == 70 and out["server_core_busy_pct"] == 70
    assert out["other_load_pct"] is None
