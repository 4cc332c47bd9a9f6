"""The gateway as a table: which handler answers which msync command, and which one
answers an uplink meta of which namespace.

A new namespace (groups and rooms as MUC, contacts as ROSTER, CONFERENCE, ...) is one module
in this package and one line in ``METAS``. A command absent from ``COMMANDS`` (an uplink
NOTICE, a number this server does not know) closes the connection with ``Close.POLICY``, as
does a command sent in a state other than its route's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from kibitz.protocol._msync import pb

from ..connection import ConnState
from .context import MetaHandler, Route
from .logout import logout
from .messages import chat
from .provision import provision
from .statistic import statistic
from .sync import sync
from .unread import unread

__all__ = ["COMMANDS", "METAS"]

COMMANDS: Final[Mapping[pb.MSync.Command, Route]] = {
    pb.MSync.PROVISION: Route(provision, ConnState.CONNECTED),
    pb.MSync.SYNC: Route(sync, ConnState.PROVISIONED),
    pb.MSync.UNREAD: Route(unread, ConnState.PROVISIONED),  # also the heartbeat
    pb.MSync.LOGOUT: Route(logout, ConnState.PROVISIONED),
}

METAS: Final[Mapping[pb.Meta.NameSpace, MetaHandler]] = {
    pb.Meta.CHAT: chat,
    pb.Meta.STATISTIC: statistic,
}
