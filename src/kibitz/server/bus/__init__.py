"""Fan-out of notices between the node that stores a message and the nodes holding the
recipients' sessions. ``LocalBus`` is the single-node case; a broker-backed bus implements
the same ``publish`` and calls ``deliver`` on each node's registry for what it receives."""

from __future__ import annotations

from .local import LocalBus as LocalBus

__all__ = ["LocalBus"]
