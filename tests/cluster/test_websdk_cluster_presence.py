"""Presence with the official Web SDK (both pinned packages) on two nodes of one cluster:
bob follows alice from node 1 and hears her log in, publish and log out on node 0."""

from __future__ import annotations

import pytest

from tests.websdk.test_websdk import SDKS, Lane, node_ready

from .conftest import Cluster

__all__ = ["node_ready"]

pytestmark = pytest.mark.websdk


@pytest.fixture(scope="module")
def lane(node_ready: str, cluster: Cluster) -> Lane:
    lane = Lane(node=node_ready, server=cluster.nodes[0])
    lane.add_app("wpresence")
    lane.authorise()
    return lane


@pytest.mark.parametrize("sdk", SDKS)
def test_presence_across_nodes(lane: Lane, cluster: Cluster, sdk: str) -> None:
    nodes = [{"rest": n.rest, "ws": n.ws} for n in cluster.nodes]
    users = lane.users("wpresence", "alice", "bob")
    lane.run("presence", "follow", sdk, app="wpresence", users=users, nodes=nodes)
