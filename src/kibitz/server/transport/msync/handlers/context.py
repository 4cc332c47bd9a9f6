"""What every handler is given, and the shapes of the two tables.

A command handler answers one ``MSync`` frame; a meta handler answers one uplink ``Meta``
of its namespace (inside a SYNC). Both get the ``Context``: the services, and the meta
table, which the SYNC handler routes through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from kibitz.protocol._msync import pb
from kibitz.server.services import Services

from ..connection import Connection, ConnState

__all__ = ["CommandHandler", "Context", "MetaHandler", "Route"]

CommandHandler = Callable[["Context", Connection, pb.MSync], Awaitable[None]]
MetaHandler = Callable[["Context", Connection, pb.Meta], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Route:
    """A command's handler and the one connection state it is accepted in."""

    handle: CommandHandler
    state: ConnState


@dataclass(frozen=True, slots=True)
class Context:
    services: Services
    metas: Mapping[pb.Meta.NameSpace, MetaHandler]
