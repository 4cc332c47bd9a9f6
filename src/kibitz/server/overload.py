"""Load shedding: when this node cannot keep up, new work is refused at once (SERVER_BUSY)
instead of queued behind a backlog where every message's latency grows without bound.

Two signals, each with a bound from the settings:

- the backlog (``overload_queue_jobs``): sends accepted and not yet acknowledged, plus
  the group-commit writer's queue (acknowledgements, logins waiting for a commit);
- the event loop's lag (``overload_lag_ms``): how late a 100 ms timer fires — busy once
  it has been late past the bound ``LATE_TICKS`` times in a row (a loop that stays
  behind), not for one slow tick (one long callback, a garbage collection).

Busy means either is past its bound. New sends (msync) and REST calls are refused while
busy; what is already accepted keeps going (acks, pulls, heartbeats are never shed), so
the backlog drains and the node recovers by itself. The monitor is one task, owned by the
app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Callable
from typing import Final

__all__ = ["LoadShedder"]

log = logging.getLogger(__name__)

TICK_S: Final = 0.1
LATE_TICKS: Final = 5


class LoadShedder:
    def __init__(
        self, queue_depth: Callable[[], int], *, max_queue_jobs: int, max_lag_ms: float
    ) -> None:
        self._queue_depth = queue_depth
        self._max_queue = max_queue_jobs
        self._max_lag_ms = max_lag_ms
        self.lag_ms = 0.0  # the last tick's
        self._late = 0  # ticks in a row late past the bound
        self.shed = 0  # requests refused while busy (the /metrics counter reads it)
        self._was_busy = False
        self.in_flight = 0  # sends accepted, not yet acknowledged (``track``)
        self._task: asyncio.Task[None] | None = None
        self.sampled = asyncio.Event()  # set at every tick (tests wait on it)

    def busy(self) -> bool:
        """Past a bound now; counts the refusal the caller is about to make."""
        backlog = self.in_flight + self._queue_depth()
        over = backlog > self._max_queue or self._late >= LATE_TICKS
        if over:
            self.shed += 1
        if over != self._was_busy:
            self._was_busy = over
            log.warning(
                "overloaded: shedding new work" if over else "load back to normal",
                extra={"queue": self._queue_depth(), "lag_ms": round(self.lag_ms, 1)},
            )
        return over

    def track(self, work: object) -> None:
        """Count an accepted send until ``work`` (its coroutine) is gone — run to its ack,
        or dropped unrun with its connection: counted out exactly once either way."""
        self.in_flight += 1
        weakref.finalize(work, self._done)

    def _done(self) -> None:
        self.in_flight -= 1

    def observe_lag(self, lag_ms: float) -> None:
        self.lag_ms = max(0.0, lag_ms)
        self._late = self._late + 1 if self.lag_ms > self._max_lag_ms else 0

    async def _watch(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(TICK_S)
            self.observe_lag((time.perf_counter() - started - TICK_S) * 1000)
            self.sampled.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
