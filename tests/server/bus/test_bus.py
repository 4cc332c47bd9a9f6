"""The bus: typed events survive the wire, reach every node exactly once (the publisher's
own subscribers without a Redis round trip), and garbage on the channel is ignored."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from kibitz.protocol import ErrorCode
from kibitz.server.bus.codec import decode_batch, encode_batch
from kibitz.server.bus.local import LocalBus
from kibitz.server.bus.redis import RedisBus
from kibitz.server.domain.events import (
    DeviceOffline,
    DeviceOnline,
    Event,
    KickDevices,
    Notice,
    UserChanged,
)

from ..redis_support import connect

pytestmark = pytest.mark.anyio

EVENTS: list[Event] = [
    Notice("app", "org#app", "bob", "alice", queue_resource="web", skip_resource="web"),
    Notice("app", "org#app", "carol", "alice"),
    KickDevices("app", "alice", int(ErrorCode.USER_KICKED_BY_CHANGE_PASSWORD)),
    KickDevices("app", "alice", 206, resource="web", session="s1", reason="bye"),
    DeviceOnline("app", "alice", "web", 3),
    DeviceOffline("app", "alice", "web", 3),
    UserChanged("app", "alice"),
]


def test_every_event_type_round_trips() -> None:
    origin, events = decode_batch(encode_batch(42, EVENTS))
    assert origin == 42
    assert events == EVENTS
    assert [type(e) for e in events] == [type(e) for e in EVENTS]


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x01", encode_batch(1, [])[:-1] + b"\xc1", b"\x92\x01\x91\x92\x63\x90"],
)
def test_garbage_is_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_batch(data)


def test_a_field_of_the_wrong_type_is_refused() -> None:
    import msgspec

    bad = msgspec.msgpack.encode((1, [(2, ["app", "alice", "not-a-code", None, None, ""])]))
    with pytest.raises(ValueError):
        decode_batch(bad)


class Heard:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.changed = asyncio.Event()

    def __call__(self, events: Sequence[Event]) -> None:
        self.events.extend(events)
        self.changed.set()

    async def until(self, count: int) -> list[Event]:
        async with asyncio.timeout(5):
            while len(self.events) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.events


async def test_local_bus_groups_by_type() -> None:
    bus = LocalBus()
    notices, kicks = Heard(), Heard()
    bus.subscribe(Notice, notices)
    bus.subscribe(KickDevices, kicks)
    await bus.publish(EVENTS)
    assert notices.events == EVENTS[:2]
    assert kicks.events == EVENTS[2:4]


async def test_redis_bus_reaches_every_node_once(prefix: str) -> None:
    redis = await connect()
    a, b = RedisBus(redis, prefix + "bus"), RedisBus(redis, prefix + "bus")
    heard_a, heard_b = Heard(), Heard()
    a.subscribe(Notice, heard_a)
    b.subscribe(Notice, heard_b)
    await a.start()
    await b.start()
    try:
        await a.publish(EVENTS[:2])
        assert heard_a.events == EVENTS[:2]  # at once, before any round trip
        assert await heard_b.until(2) == EVENTS[:2]
        await b.publish([EVENTS[0]])
        assert await heard_a.until(3) == [*EVENTS[:2], EVENTS[0]]
        await redis.publish(prefix + "bus", b"garbage")  # ignored, the listener survives
        await a.publish([EVENTS[1]])
        assert await heard_b.until(4) == [*EVENTS[:2], EVENTS[0], EVENTS[1]]
        assert heard_a.events == [*EVENTS[:2], EVENTS[0], EVENTS[1]]  # never its own twice
    finally:
        await a.aclose()
        await b.aclose()
        await redis.aclose()


async def test_redis_bus_drops_past_its_bound(prefix: str) -> None:
    redis = await connect()
    bus = RedisBus(redis, prefix + "bus", max_pending=3)  # not started: nothing drains
    try:
        await bus.publish(EVENTS)
        assert bus.dropped == len(EVENTS) - 3
    finally:
        await redis.aclose()
