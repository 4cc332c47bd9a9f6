"""One contract for the device directory, run on memory (one node) and on Redis (a cluster):
admission under the device limit, replacement, single-device kicks, departures, expiry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.cluster.local import LocalDirectory
from kibitz.server.cluster.redis import NodeLease, RedisDirectory, RedisNodes
from kibitz.server.domain.sessions import DeviceDirectory, LiveDevice

from ..redis_support import connect

pytestmark = pytest.mark.anyio


class Nodes:
    """Directories as seen from node 1 and node 2 (the same one, on memory)."""

    def __init__(self, one: DeviceDirectory, two: DeviceDirectory, leases: list[Any]) -> None:
        self.one, self.two, self.leases = one, two, leases

    def device(self, resource: str, node: int = 0, session: str | None = None) -> LiveDevice:
        lease = self.leases[node] if self.leases else None
        return LiveDevice(
            resource,
            session or f"{resource}-{node}",
            node=lease.node if lease else node,
            epoch=lease.epoch if lease else "",
        )


@pytest.fixture(params=["memory", "redis"])
async def nodes(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[Nodes]:
    if request.param == "memory":
        d = LocalDirectory()
        yield Nodes(d, d, [])
        return
    redis = await connect()
    leases = [NodeLease(redis, prefix, f"http://127.0.0.1:{9000 + i}") for i in range(2)]
    for lease in leases:
        await lease.acquire()
    yield Nodes(
        RedisDirectory(redis, prefix, leases[0]), RedisDirectory(redis, prefix, leases[1]), leases
    )
    for lease in leases:
        await lease.release()
    await redis.aclose()


async def test_the_device_limit_counts_every_node(nodes: Nodes) -> None:
    await nodes.one.admit("app", "alice", nodes.device("web", 0), 2)
    await nodes.two.admit("app", "alice", nodes.device("phone", 1), 2)
    with pytest.raises(ChatError) as refused:
        await nodes.one.admit("app", "alice", nodes.device("pad", 0), 2)
    assert refused.value.code is ErrorCode.USER_LOGIN_TOO_MANY_DEVICES
    assert sorted(d.resource for d in await nodes.two.devices("app", "alice")) == ["phone", "web"]
    assert await nodes.two.online("app", ["alice", "bob"]) == {"alice"}


async def test_racing_logins_cannot_both_take_the_last_slot(nodes: Nodes) -> None:
    await nodes.one.admit("app", "alice", nodes.device("web", 0), 2)
    results = await asyncio.gather(
        nodes.one.admit("app", "alice", nodes.device("a", 0), 2),
        nodes.two.admit("app", "alice", nodes.device("b", 1), 2),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, ChatError)]
    assert len(refused) == 1
    assert len(await nodes.one.devices("app", "alice")) == 2


async def test_same_resource_replaces_and_single_device_kicks(nodes: Nodes) -> None:
    first = nodes.device("web", 0, session="s1")
    await nodes.one.admit("app", "alice", first, 4)
    again = await nodes.two.admit("app", "alice", nodes.device("web", 1, session="s2"), 4)
    assert again.replaced == first and again.kicked == ()
    # The old session's late departure must not remove the new one.
    assert not await nodes.one.leave("app", "alice", "web", "s1")
    assert [d.session for d in await nodes.one.devices("app", "alice")] == ["s2"]
    solo = await nodes.one.admit("app", "alice", nodes.device("phone", 0), 1)
    assert [d.session for d in solo.kicked] == ["s2"]
    assert [d.resource for d in await nodes.two.devices("app", "alice")] == ["phone"]


async def test_leave_and_drop(nodes: Nodes) -> None:
    for r in ("a", "b", "c"):
        await nodes.one.admit("app", "alice", nodes.device(r, 0), 4)
    assert await nodes.two.leave("app", "alice", "a", "a-0")
    assert await nodes.two.drop("app", "alice", ["b", "zz"]) == 1
    assert [d.resource for d in await nodes.one.devices("app", "alice")] == ["c"]
    assert await nodes.one.drop("app", "alice", None) == 1
    assert await nodes.one.online("app", ["alice"]) == set()


async def test_apps_do_not_share_users(nodes: Nodes) -> None:
    await nodes.one.admit("app1", "alice", nodes.device("web", 0), 1)
    assert await nodes.one.online("app2", ["alice"]) == set()
    assert await nodes.one.devices("app2", "alice") == []


async def test_a_dead_nodes_devices_stop_counting_when_its_lease_ends(
    redis: Redis, prefix: str
) -> None:
    dead = NodeLease(redis, prefix, "http://127.0.0.1:9001", ttl_s=1.0)
    live = NodeLease(redis, prefix, "http://127.0.0.1:9002")
    await dead.acquire()
    await live.acquire()
    directory = RedisDirectory(redis, prefix, live)
    gone = LiveDevice("web", "s1", dead.node or 0, dead.epoch)
    await directory.admit("app", "alice", gone, 1)
    assert await directory.online("app", ["alice"]) == {"alice"}
    # The node dies (its renewal stops, as a SIGKILL would); the lease runs out in 1 s.
    assert dead._task is not None
    dead._task.cancel()
    key = dead.key(dead.node or 0)
    for _ in range(100):
        if not await redis.exists(key):
            break
        await asyncio.sleep(0.05)
    assert await directory.online("app", ["alice"]) == set()
    admitted = await directory.admit(
        "app", "alice", LiveDevice("pad", "s2", live.node or 0, live.epoch), 1
    )
    assert admitted.kicked == ()  # the dead device was not a live one to kick
    assert [n.url for n in await RedisNodes(redis, live).live()] == ["http://127.0.0.1:9002"]
    await live.release()


async def test_leases_give_distinct_node_ids_and_renew(redis: Redis, prefix: str) -> None:
    leases = [NodeLease(redis, prefix, f"http://h{i}", ttl_s=1.0) for i in range(3)]
    ids = [await lease.acquire() for lease in leases]
    assert sorted(ids) == [0, 1, 2]
    await asyncio.sleep(1.5)  # past the TTL: renewal kept every lease
    listed: Callable[[], Any] = RedisNodes(redis, leases[0]).live
    assert [n.node for n in await listed()] == [0, 1, 2]
    await leases[1].release()
    assert [n.node for n in await listed()] == [0, 2]
    again = NodeLease(redis, prefix, "http://h9")
    assert await again.acquire() == 1  # a released id is free again
    for lease in [leases[0], leases[2], again]:
        await lease.release()


async def test_a_node_restarted_on_its_address_is_listed_once(redis: Redis, prefix: str) -> None:
    """Until its dead self's lease runs out, a restarted node holds two leases for one URL;
    discovery lists the address once (the cluster lane saw it twice)."""
    dead = NodeLease(redis, prefix, "http://127.0.0.1:9001")
    again = NodeLease(redis, prefix, "http://127.0.0.1:9001")
    other = NodeLease(redis, prefix, "http://127.0.0.1:9002")
    for lease in (dead, again, other):
        await lease.acquire()
    urls = [n.url for n in await RedisNodes(redis, other).live()]
    assert sorted(urls) == ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
    for lease in (dead, again, other):
        await lease.release()
