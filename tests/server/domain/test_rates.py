"""Token buckets: two seconds of burst, then the rate; per key; bounded; and the shared
Redis counter a cluster's REST limit uses."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.cluster.rates import RedisRateCounter
from kibitz.server.domain.app_settings import AppSettings
from kibitz.server.domain.rates import Buckets, RestRates

pytestmark = pytest.mark.anyio


def test_a_bucket_bursts_two_seconds_then_refills_at_the_rate() -> None:
    buckets = Buckets()
    now = 1_000
    assert [buckets.take(("a",), 3, now) for _ in range(7)] == [True] * 6 + [False]
    assert buckets.take(("b",), 3, now)  # another key has its own bucket
    assert not buckets.take(("a",), 3, now + 300)  # 0.9 tokens
    assert buckets.take(("a",), 3, now + 340)
    assert [buckets.take(("a",), 3, now + 10_000) for _ in range(7)] == [True] * 6 + [False]


def test_buckets_are_bounded() -> None:
    buckets = Buckets(max_buckets=3)
    for n in range(10):
        buckets.take((str(n),), 1, 0)
    assert len(buckets._buckets) == 3


class Fixed:
    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings

    async def get(self, app_pk: str) -> AppSettings:
        return self.settings


class Clock:
    now = 10_000

    def now_ms(self) -> int:
        return self.now


async def test_the_cluster_counts_calls_of_every_node_together(redis: Redis, prefix: str) -> None:
    counter = RedisRateCounter(redis, prefix)
    clock = Clock()
    settings = Fixed(AppSettings(rest_rate_per_s=2))
    node_a = RestRates(settings, clock, counter)
    node_b = RestRates(settings, clock, counter)
    for node in (node_a, node_b, node_a, node_b):  # 2/s over a 2 s window: 4 calls
        await node.check("app1", "GET /users/{username}")
    with pytest.raises(ChatError) as caught:
        await node_b.check("app1", "GET /users/{username}")
    assert caught.value.code is ErrorCode.SERVER_BUSY
    await node_a.check("app1", "POST /users")  # another route
    await node_a.check("app2", "GET /users/{username}")  # another app
    clock.now += 2_000  # the next window
    await node_b.check("app1", "GET /users/{username}")
    assert 0 < await redis.ttl(f"{prefix}rate:app1:GET /users/{{username}}:6") <= 4
