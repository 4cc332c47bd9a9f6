"""Pull/ack of msync queues (protocol §5.6), one queue at a time as the Web SDK does.

For a queue the client sends ``CommSyncUL{queue}``; each non-empty batch is acknowledged
with ``key = next_key`` (which also asks for more) until an empty batch ends the queue. A
``next_key`` repeated twice in a row abandons the queue (the Web SDK's rule), and a NOTICE
that arrives during a pull makes the queue be pulled once more at the end, so a message
committed just after an answer is never stranded.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from kibitz.protocol._msync import encode_frame, pb

__all__ = ["Puller"]

log = logging.getLogger("kibitz.sdk")


def _queue_key(queue: pb.JID) -> tuple[str, str]:
    return (queue.name, queue.domain)


class Puller:
    """Pull/ack per queue (protocol §5.6), one queue at a time, as the Web SDK does."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self._send = send
        self._pending: OrderedDict[tuple[str, str], pb.JID] = OrderedDict()
        self._current: pb.JID | None = None
        self._last_key: int | None = None
        self._again = False

    async def want(self, queue: pb.JID) -> None:
        key = _queue_key(queue)
        if self._current is not None and _queue_key(self._current) == key:
            self._again = True  # a notice during the pull: pull once more at the end
            return
        self._pending.setdefault(key, queue)
        if self._current is None:
            await self._next()

    async def _pull(self, queue: pb.JID, key: int | None) -> None:
        ul = pb.CommSyncUL(queue=queue)
        if key is not None:
            ul.key = key
        await self._send(encode_frame(pb.MSync.SYNC, ul))

    async def _next(self) -> None:
        if self._current is not None and self._again:
            queue = self._current
        elif self._pending:
            _, queue = self._pending.popitem(last=False)
        else:
            self._current = None
            return
        self._current, self._last_key, self._again = queue, None, False
        await self._pull(queue, None)

    async def on_batch(self, dl: pb.CommSyncDL) -> None:
        """After the batch's metas were delivered: acknowledge, go on, or move on."""
        if self._current is None or _queue_key(dl.queue) != _queue_key(self._current):
            return  # a stale answer for a queue we are no longer pulling
        if not dl.metas:  # the end of the queue (isLast comes only on empty batches)
            await self._next()
            return
        next_key = dl.next_key if dl.HasField("next_key") else dl.metas[-1].id
        if next_key == self._last_key:
            log.warning("queue %s repeated next_key %s; abandoning it", dl.queue.name, next_key)
            self._again = False
            await self._next()
            return
        self._last_key = next_key
        await self._pull(self._current, next_key)  # acknowledges everything <= next_key
