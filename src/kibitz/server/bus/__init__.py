"""The event bus (``domain.events.EventBus``) between the node where something happens and
the nodes it concerns: ``LocalBus`` for one node, ``redis.RedisBus`` for a cluster."""

from __future__ import annotations

from .local import LocalBus as LocalBus

__all__ = ["LocalBus"]
