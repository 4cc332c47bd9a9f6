"""64-bit time-ordered ids for messages (msync carries them as uint64).

Layout, most significant bit first: 1 zero bit, 41 bits of milliseconds since
``EPOCH_MS``, 10 bits of node id, 12 bits of sequence. Ids from one generator strictly
increase, even if the wall clock steps backwards, because msync acknowledges "everything
up to key" and so needs ids that only grow within a queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, NewType

__all__ = ["EPOCH_MS", "IdGenerator", "MessageId", "first_id_at", "id_timestamp_ms"]

MessageId = NewType("MessageId", int)

EPOCH_MS: Final = 1_577_836_800_000  # 2020-01-01T00:00:00Z
_NODE_BITS: Final = 10
_SEQ_BITS: Final = 12
_SEQ_MASK: Final = (1 << _SEQ_BITS) - 1
_MAX_NODE: Final = (1 << _NODE_BITS) - 1


def first_id_at(timestamp_ms: int) -> int:
    """The smallest id any generator can give at ``timestamp_ms``: a floor for "from then on"."""
    return max(timestamp_ms - EPOCH_MS, 0) << (_NODE_BITS + _SEQ_BITS)


def id_timestamp_ms(message_id: int) -> int:
    """The Unix time in milliseconds encoded in an id."""
    return (message_id >> (_NODE_BITS + _SEQ_BITS)) + EPOCH_MS


class IdGenerator:
    """Snowflake-style generator; ``clock_ms`` is injected so tests control time."""

    def __init__(self, clock_ms: Callable[[], int], node: int = 0) -> None:
        if not 0 <= node <= _MAX_NODE:
            raise ValueError(f"node must be in 0..{_MAX_NODE}")
        self._clock_ms = clock_ms
        self._node = node
        self._last = 0

    @property
    def node(self) -> int:
        return self._node

    def rebind(self, node: int) -> None:
        """Take the node id a cluster lease granted (ids so far keep their order)."""
        if not 0 <= node <= _MAX_NODE:
            raise ValueError(f"node must be in 0..{_MAX_NODE}")
        self._node = node

    def next_id(self) -> MessageId:
        ms = max(self._clock_ms() - EPOCH_MS, 0)
        candidate = (ms << (_NODE_BITS + _SEQ_BITS)) | (self._node << _SEQ_BITS)
        if candidate <= self._last:
            # Same millisecond (or the clock went back): bump the sequence; when the
            # sequence overflows this borrows from the next millisecond, which keeps order.
            last_seq = self._last & _SEQ_MASK
            if last_seq < _SEQ_MASK:
                candidate = self._last + 1
            else:
                base = ((self._last >> (_NODE_BITS + _SEQ_BITS)) + 1) << (_NODE_BITS + _SEQ_BITS)
                candidate = base | (self._node << _SEQ_BITS)
        self._last = candidate
        return MessageId(candidate)
