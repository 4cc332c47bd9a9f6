"""The official Web SDK (both pinned packages) on two nodes of one cluster: a client on node
0 chats with one on node 1, and kicks and the device limit work across nodes."""

from __future__ import annotations

import pytest

from tests.websdk.test_websdk import SDKS, Lane, node_ready

from .conftest import Cluster

__all__ = ["node_ready"]

pytestmark = pytest.mark.websdk


@pytest.fixture(scope="module")
def lane(node_ready: str, cluster: Cluster) -> Lane:
    lane = Lane(node=node_ready, server=cluster.nodes[0])
    lane.add_app("wchat")
    lane.add_app("wsolo", max_devices="1")
    lane.authorise()
    return lane


def _nodes(cluster: Cluster) -> list[dict[str, str]]:
    return [{"rest": n.rest, "ws": n.ws} for n in cluster.nodes]


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("case", ["chat", "kick", "device_limit"])
def test_websdk_across_nodes(lane: Lane, cluster: Cluster, sdk: str, case: str) -> None:
    lane.run("cluster", case, sdk, app="wchat", nodes=_nodes(cluster))


@pytest.mark.parametrize("sdk", SDKS)
def test_websdk_login_elsewhere_across_nodes(lane: Lane, cluster: Cluster, sdk: str) -> None:
    users = lane.users("wsolo", "alice", "bob")
    lane.run("cluster", "login_elsewhere", sdk, app="wsolo", users=users, nodes=_nodes(cluster))
