"""The single-node bus: notices go straight to this process's session registry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kibitz.server.domain.messaging import Notice

__all__ = ["LocalBus", "NoticeSink"]


class NoticeSink(Protocol):
    def deliver(self, notices: Sequence[Notice]) -> None:
        """Queue each notice on the local sessions it names; must not block."""
        ...


class LocalBus:
    def __init__(self, sink: NoticeSink) -> None:
        self._sink = sink

    async def publish(self, notices: Sequence[Notice]) -> None:
        self._sink.deliver(notices)
