"""The cluster's shared rate counters (``RateCounter``): one Redis key per app, route and
window, counted with INCR and gone two windows later."""

from __future__ import annotations

from redis.asyncio import Redis

__all__ = ["RedisRateCounter"]


class RedisRateCounter:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix + "rate:"

    async def hit(self, key: str, window_s: int) -> int:
        full = self._prefix + key
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(full)
            pipe.expire(full, window_s * 2)
            count, _ = await pipe.execute()
        return int(count)
