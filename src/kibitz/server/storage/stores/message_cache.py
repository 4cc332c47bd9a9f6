"""What the message store knows without asking the database, so that online delivery (a
notice, a pull, an acknowledgement, the empty pull that ends it) touches no table.

- ``latest``: the newest id written to each (owner, queue) since this process started. The
  writer is the only writer, so a pull past it has nothing to return.
- ``recent``: the newest inbox rows of each (owner, queue), *complete* above a floor: every
  row with an id above ``floor`` is here. A pull past the floor is answered from memory.
- ``cursors``: every cursor of the devices online on this node (loaded at login), so the
  memory answer starts exactly where the device acknowledged.

A conversation's queue is kept like any other, under its rows' owner (the conversation's
key); a member device's pull names that owner, its own cursor and the skip name its rows
use (``member_device``), so one copy in memory serves every member.

All of it describes one node's writes: with several nodes writing the same inboxes it would
have to be fed by the bus, or switched off (``SqlMessageStore(shared=True)`` does that).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Final

__all__ = ["MessageCache"]

Key = tuple[str, str]  # (rows owner, queue)

MAX_LATEST: Final = 200_000
MAX_RECENT_BYTES: Final = 64 * 1024 * 1024
MAX_RECENT_PER_QUEUE: Final = 64


@dataclass(slots=True)
class _Recent:
    floor: int
    rows: deque[tuple[int, bytes, str | None]] = field(default_factory=deque)
    size: int = 0


class MessageCache:
    def __init__(
        self,
        *,
        max_latest: int = MAX_LATEST,
        max_bytes: int = MAX_RECENT_BYTES,
        per_queue: int = MAX_RECENT_PER_QUEUE,
    ) -> None:
        self._latest: OrderedDict[Key, int] = OrderedDict()
        self._recent: OrderedDict[Key, _Recent] = OrderedDict()
        self._bytes = 0
        self._cursors: dict[tuple[str, str], dict[str, int]] = {}
        self._max_latest = max_latest
        self._max_bytes = max_bytes
        self._per_queue = per_queue

    # -- fed by the writer, after each commit ---------------------------------------------

    def committed(self, owner: str, queue: str, msg_id: int, meta: bytes, skip: str | None) -> None:
        """A row is durable. Rows of one key arrive in increasing id order."""
        key = (owner, queue)
        previous = self._latest.get(key)
        self._latest[key] = msg_id
        self._latest.move_to_end(key)
        if len(self._latest) > self._max_latest:
            old, _ = self._latest.popitem(last=False)
            self._drop(old)
        recent = self._recent.get(key)
        if recent is None:
            if previous is None:
                return  # what came before is unknown: this queue's first pull reads the table
            recent = self._recent[key] = _Recent(floor=previous)
        self._recent.move_to_end(key)
        recent.rows.append((msg_id, meta, skip))
        recent.size += len(meta)
        self._bytes += len(meta)
        while len(recent.rows) > self._per_queue:
            self._forget_oldest(recent)
        while self._bytes > self._max_bytes and self._recent:
            self._drop(next(iter(self._recent)))

    def _forget_oldest(self, recent: _Recent) -> None:
        msg_id, meta, _ = recent.rows.popleft()
        recent.floor = msg_id
        recent.size -= len(meta)
        self._bytes -= len(meta)

    def _drop(self, key: Key) -> None:
        recent = self._recent.pop(key, None)
        if recent is not None:
            self._bytes -= recent.size

    def acked(self, owner: str, resource: str, queue: str, key: int) -> None:
        known = self._cursors.get((owner, resource))
        if known is not None and key > known.get(queue, 0):
            known[queue] = key

    # -- devices online on this node ------------------------------------------------------

    def load_cursors(self, owner: str, resource: str, cursors: dict[str, int]) -> None:
        known = self._cursors.setdefault((owner, resource), {})
        for queue, key in cursors.items():
            if key > known.get(queue, 0):
                known[queue] = key

    def forget_device(self, owner: str, resource: str) -> None:
        self._cursors.pop((owner, resource), None)

    def cursor(self, owner: str, resource: str, queue: str) -> int | None:
        known = self._cursors.get((owner, resource))
        return None if known is None else known.get(queue, 0)

    # -- answering a pull -----------------------------------------------------------------

    def pull(
        self,
        owner: str,
        resource: str,
        queue: str,
        after: int,
        limit: int,
        rows_owner: str | None = None,
        skip: str | None = None,
    ) -> list[tuple[int, bytes]] | None:
        """The answer from memory, or None when only the table can give it. The device is
        (owner, resource); ``rows_owner`` owns the queue's rows (default: the owner), and
        rows marked ``skip`` (default: the resource) are not for it."""
        key = (owner if rows_owner is None else rows_owner, queue)
        if skip is None:
            skip = resource
        latest = self._latest.get(key)
        if latest is not None and after >= latest:
            return []  # nothing was written past ``after``
        cursor = self.cursor(owner, resource, queue)
        if cursor is None:
            return None
        after = max(after, cursor)
        if latest is not None and after >= latest:
            return []
        recent = self._recent.get(key)
        if recent is None or after < recent.floor:
            return None
        # Newest first, stopping at ``after``: an online device is usually one row behind.
        out: list[tuple[int, bytes]] = []
        for msg_id, meta, skipped in reversed(recent.rows):
            if msg_id <= after:
                break
            if skipped != skip:
                out.append((msg_id, meta))
        out.reverse()
        return out[:limit]
