"""Handlers by event type, shared by the local and the Redis bus."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from kibitz.server.domain.events import E, Event

__all__ = ["Subscribers"]

log = logging.getLogger(__name__)


class Subscribers:
    """Handlers by event type; ``dispatch`` groups a batch by type, one call per handler."""

    def __init__(self) -> None:
        self._handlers: defaultdict[type[Any], list[Callable[[Sequence[Any]], None]]] = defaultdict(
            list
        )

    def add(self, kind: type[E], handler: Callable[[Sequence[E]], None]) -> None:
        self._handlers[kind].append(handler)

    def dispatch(self, events: Sequence[Event]) -> None:
        if not events:
            return
        kind = type(events[0])
        if all(type(e) is kind for e in events):  # the common case: one kind per publish
            self._call(kind, events)
            return
        by_kind: dict[type[Any], list[Event]] = {}
        for e in events:
            by_kind.setdefault(type(e), []).append(e)
        for k, group in by_kind.items():
            self._call(k, group)

    def _call(self, kind: type[Any], events: Sequence[Event]) -> None:
        for handler in self._handlers.get(kind, ()):
            try:
                handler(events)
            except Exception:  # one broken subscriber must not stop the others
                log.exception("bus subscriber failed")
