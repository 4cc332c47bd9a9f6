"""The single-node bus: events go straight to this process's subscribers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kibitz.server.domain.events import E, Event

from .subscribers import Subscribers

__all__ = ["LocalBus"]


class LocalBus:
    def __init__(self) -> None:
        self._subscribers = Subscribers()

    async def publish(self, events: Sequence[Event]) -> None:
        self._subscribers.dispatch(events)

    def subscribe(self, kind: type[E], handler: Callable[[Sequence[E]], None]) -> None:
        self._subscribers.add(kind, handler)
