"""The load shedder: busy past either bound — the loop's lag only when it stays behind
(one slow tick does not shed, ticks late in a row do) — and back to normal by itself."""

from __future__ import annotations

import asyncio
import time

import pytest

from kibitz.server.overload import LoadShedder

pytestmark = pytest.mark.anyio


def test_busy_past_the_queue_bound_and_back() -> None:
    depth = [0]
    shedder = LoadShedder(lambda: depth[0], max_queue_jobs=10, max_lag_ms=1000)
    assert not shedder.busy()
    depth[0] = 11
    assert shedder.busy() and shedder.shed == 1
    depth[0] = 10
    assert not shedder.busy() and shedder.shed == 1


def test_sends_in_flight_count_until_their_coroutine_is_gone() -> None:
    shedder = LoadShedder(lambda: 0, max_queue_jobs=1, max_lag_ms=1000)

    async def send() -> None:
        pass

    first, second = send(), send()
    shedder.track(first)
    shedder.track(second)
    assert shedder.in_flight == 2 and shedder.busy()
    first.close()  # dropped unrun (its connection went away)
    del first
    assert shedder.in_flight == 1 and not shedder.busy()
    try:
        second.send(None)  # run to the end
    except StopIteration:
        pass
    del second
    assert shedder.in_flight == 0


def test_only_a_loop_that_stays_behind_sheds() -> None:
    shedder = LoadShedder(lambda: 0, max_queue_jobs=10, max_lag_ms=200)
    shedder.observe_lag(5000)  # one long block
    assert not shedder.busy()
    for _ in range(3):
        shedder.observe_lag(300)
    shedder.observe_lag(0)  # caught up once: the count starts again
    for _ in range(4):
        shedder.observe_lag(300)
    assert not shedder.busy()
    shedder.observe_lag(300)  # five late ticks in a row
    assert shedder.busy()
    shedder.observe_lag(10)
    assert not shedder.busy()


async def test_a_loop_that_stays_behind_is_seen_and_forgotten() -> None:
    shedder = LoadShedder(lambda: 0, max_queue_jobs=10, max_lag_ms=100)
    shedder.start()
    try:
        for _ in range(5):  # a loop that keeps falling behind: each tick 0.3 s late
            await tick(shedder)  # the watcher is now inside its 100 ms sleep
            time.sleep(0.4)  # noqa: ASYNC251 (the point: a loop stuck, again and again)
        await tick(shedder)
        assert shedder.lag_ms > 100 and shedder.busy()
        await tick(shedder)  # on time again
        assert not shedder.busy()
    finally:
        await shedder.aclose()


async def tick(shedder: LoadShedder) -> None:
    shedder.sampled.clear()
    async with asyncio.timeout(5):
        await shedder.sampled.wait()
