"""Presence across two real nodes (one PostgreSQL, one Redis): a follower on node 1 hears
the followed user's device log in and out on node 0, and a publish made through node 0's
REST, as NOTIFY presence events pulled from its own node."""

from __future__ import annotations

import pytest

from tests.server.transport.msync.test_presence import presence_events

from .conftest import Cluster
from .support import client, users

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_presence_changes_cross_nodes(cluster: Cluster) -> None:
    u = users(cluster, "alice", "bob")
    alice, bob = u["alice"], u["bob"]
    sub = cluster.rest(
        1, "POST", f"/acme/chat/users/{bob}/presence/3600", json={"usernames": [alice]}
    )
    assert sub.status_code == 200, sub.text
    (now,) = sub.json()["result"]
    assert now["status"] == {}
    async with client(cluster, 1, bob, "b1") as b:
        async with client(cluster, 0, alice, "a1"):
            (online,) = await presence_events(b)
            assert online["uid"] == alice and online["status"] == {"a1": "1"}
            assert online["expiry"] == now["expiry"]
            published = cluster.rest(
                0, "POST", f"/acme/chat/users/{alice}/presence/a1/1", json={"ext": "away"}
            )
            assert published.status_code == 200, published.text
            (changed,) = await presence_events(b)
            assert changed["ext"] == "away" and changed["status"] == {"a1": "1"}
        (offline,) = await presence_events(b)
        assert offline["status"] == {"a1": "0"} and offline["ext"] == "away"
    # node 1 reads what node 0 wrote
    fetched = cluster.rest(
        1, "POST", f"/acme/chat/users/{bob}/presence", json={"usernames": [alice]}
    )
    assert fetched.json()["result"][0]["ext"] == "away"
