"""One node or a cluster: the bus, the device directory and the node list a node uses,
chosen once from the settings, and their start and stop."""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass

from redis.asyncio import BlockingConnectionPool, Redis

from kibitz.protocol import IdGenerator
from kibitz.server.bus.local import LocalBus
from kibitz.server.bus.redis import RedisBus
from kibitz.server.domain.nodes import NodeInfo, NodeList
from kibitz.server.domain.sessions import DeviceDirectory
from kibitz.server.settings import Settings

from .local import LocalDirectory, LocalNodes
from .redis import NodeLease, RedisDirectory, RedisNodes

__all__ = ["Cluster", "build_cluster"]

log = logging.getLogger(__name__)


def _stop_process() -> None:
    """Our node id went to another node: stop this one (a drained, clean stop)."""
    os.kill(os.getpid(), signal.SIGTERM)


@dataclass(slots=True)
class Cluster:
    bus: LocalBus | RedisBus
    directory: DeviceDirectory
    nodes: NodeList
    lease: NodeLease | None = None
    redis: Redis | None = None
    bus_redis: Redis | None = None

    @property
    def shared(self) -> bool:
        """Other nodes write the same database."""
        return self.redis is not None

    async def start(self, ids: IdGenerator) -> int:
        """Join: lease a node id (ids use it from now on), listen on the bus; the node id."""
        if self.lease is None or not isinstance(self.bus, RedisBus):
            return ids.node
        node = await self.lease.acquire()
        ids.rebind(node)
        await self.bus.start()
        log.info("joined the cluster as node %d", node)
        return node

    async def aclose(self) -> None:
        if isinstance(self.bus, RedisBus):
            await self.bus.aclose()
        if self.lease is not None:
            await self.lease.release()
        for client in (self.redis, self.bus_redis):
            if client is not None:
                await client.aclose()


def build_cluster(settings: Settings) -> Cluster:
    if not settings.redis_url:
        me = NodeInfo(settings.node_id, settings.advertised_url())
        return Cluster(LocalBus(), LocalDirectory(), LocalNodes(me))

    # A blocking pool: a burst of logins waits for a connection instead of failing with
    # "too many connections"; the bus has a pool of its own, so no burst can starve it.
    def client(size: int) -> Redis:
        assert settings.redis_url is not None
        pool = BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=size,
            timeout=10.0,
            socket_timeout=10.0,
            socket_connect_timeout=5.0,
            health_check_interval=5,
        )
        return Redis(connection_pool=pool)

    redis = client(settings.redis_pool_size)
    bus_redis = client(4)
    prefix = settings.redis_prefix
    lease = NodeLease(
        redis,
        prefix,
        settings.advertised_url(),
        ttl_s=settings.lease_ttl_s,
        on_lost=_stop_process,
    )
    return Cluster(
        RedisBus(bus_redis, prefix + "bus"),
        RedisDirectory(redis, prefix, lease),
        RedisNodes(redis, lease),
        lease,
        redis,
        bus_redis,
    )
