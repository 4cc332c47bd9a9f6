"""The bus between nodes on Redis pub/sub (redis-py asyncio).

Every node publishes to and listens on one channel. A publish reaches this node's own
subscribers at once (no round trip through Redis) and is queued for the others; one sender
task turns whatever is queued into a single PUBLISH, so a burst of sends costs one command.
Pub/sub delivers at most once: a node that loses its connection misses what was published
meanwhile, and ``on_resync`` handlers run once it is back (a notice lost that way is
recovered by the client's next UNREAD, within its heartbeat).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from kibitz.server.domain.events import E, Event

from .codec import decode_batch, encode_batch
from .subscribers import Subscribers

__all__ = ["RedisBus"]

log = logging.getLogger(__name__)

MAX_PENDING: Final = 100_000  # events queued for other nodes; past this they are dropped
_RETRY_S: Final = (0.1, 0.2, 0.5, 1.0, 2.0)


class RedisBus:
    def __init__(self, redis: Redis, channel: str, *, max_pending: int = MAX_PENDING) -> None:
        self._redis = redis
        self._channel = channel
        self._origin = secrets.randbits(62)
        self._subscribers = Subscribers()
        self._pending: deque[Event] = deque()
        self._max_pending = max_pending
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()
        self._drained = asyncio.Event()  # set while nothing waits to be published
        self._resync: list[Callable[[], None]] = []
        self.dropped = 0  # events other nodes never got (queue full or Redis down)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening; returns once this node hears the channel (or after 5 s)."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._receive_loop(), name="bus-receive"),
            asyncio.create_task(self._send_loop(), name="bus-send"),
        ]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await self._listening.wait()

    async def aclose(self) -> None:
        """Send what is queued (for up to a second), then stop both tasks."""
        if not self._tasks:
            return
        receive, send = self._tasks
        self._tasks = []
        receive.cancel()
        self._wakeup.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await self._drained.wait()
        send.cancel()
        await asyncio.gather(receive, send, return_exceptions=True)

    # -- the bus -------------------------------------------------------------------------

    async def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        self._subscribers.dispatch(events)
        room = self._max_pending - len(self._pending)
        if room < len(events):
            self.dropped += len(events) - max(room, 0)
            events = events[: max(room, 0)]
        self._pending.extend(events)
        self._drained.clear()
        self._wakeup.set()

    def subscribe(self, kind: type[E], handler: Callable[[Sequence[E]], None]) -> None:
        self._subscribers.add(kind, handler)

    def on_resync(self, handler: Callable[[], None]) -> None:
        """Called after the listener reconnected (events may have been missed)."""
        self._resync.append(handler)

    # -- the two loops -------------------------------------------------------------------

    async def _send_loop(self) -> None:
        failures = 0
        while True:
            if not self._pending:
                self._drained.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = list(self._pending)
            self._pending.clear()
            try:
                async with asyncio.timeout(5.0):
                    await self._redis.publish(self._channel, encode_batch(self._origin, batch))
                failures = 0
            except (RedisError, OSError, TimeoutError) as exc:
                self.dropped += len(batch)
                log.warning("bus publish failed (%d events dropped): %s", len(batch), exc)
                await asyncio.sleep(_RETRY_S[min(failures, len(_RETRY_S) - 1)])
                failures += 1

    async def _receive_loop(self) -> None:
        failures = 0
        first = True
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                async with asyncio.timeout(5.0):
                    await pubsub.subscribe(self._channel)
                self._listening.set()
                if not first:
                    for handler in self._resync:
                        handler()
                first = False
                failures = 0
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._received(message["data"])
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("bus listener lost Redis: %s", exc)
                await asyncio.sleep(_RETRY_S[min(failures, len(_RETRY_S) - 1)])
                failures += 1
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())  # type: ignore[no-untyped-call]

    def _received(self, data: bytes) -> None:
        try:
            origin, events = decode_batch(data)
        except ValueError as exc:
            log.warning("ignored a bus message: %s", exc)
            return
        if origin != self._origin:
            self._subscribers.dispatch(events)
