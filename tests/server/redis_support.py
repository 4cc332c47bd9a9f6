"""Redis for the bus and cluster tests: KIBITZ_TEST_REDIS_URL (``.ci/run`` sets it), each test under
its own key prefix so runs never see each other's state."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

REDIS_URL = os.environ.get("KIBITZ_TEST_REDIS_URL")


async def connect() -> Redis:
    """A client of the test Redis, or a skip with the reason."""
    if not REDIS_URL:
        pytest.skip("Redis not configured (set KIBITZ_TEST_REDIS_URL; .ci/run does)")
    client = Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        pytest.skip(f"Redis at {REDIS_URL} does not answer: {exc}")
    return client


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = await connect()
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"kibitz-test:{uuid.uuid4().hex[:12]}:"
