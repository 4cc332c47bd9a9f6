"""The events that cross nodes, as plain records, and the bus that carries them.

One node publishes, every node (itself included) hears: a pull notice reaches the node that
holds the recipient's session, a kick the node that holds the device. A feature that needs
to tell other nodes something adds a record here and subscribes to it where it is handled
(membership changes and presence arrive this way with their issues). Events are hints or
commands about state that lives elsewhere (the database, the device directory): losing one
delays or skips a side effect, it never loses a message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

__all__ = [
    "EVENT_TYPES",
    "AppDisabled",
    "AppSettingsChanged",
    "ContactsChanged",
    "DeviceOffline",
    "DeviceOnline",
    "Event",
    "EventBus",
    "GroupChanged",
    "KickDevices",
    "MutesChanged",
    "Notice",
    "PresenceNotify",
    "UserChanged",
]


@dataclass(frozen=True, slots=True)
class Notice:
    """Tell ``username``'s sessions (but the one on ``skip_resource``) to pull ``queue``."""

    app_pk: str
    app_key: str
    username: str
    queue: str
    queue_resource: str = ""
    skip_resource: str | None = None


@dataclass(frozen=True, slots=True)
class KickDevices:
    """Log out ``username``'s sessions: all, one ``resource``, or the one ``session``.

    ``code`` is the ErrorCode the client is told (206, 207, 216, 217, ...)."""

    app_pk: str
    username: str
    code: int
    resource: str | None = None
    session: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DeviceOnline:
    app_pk: str
    username: str
    resource: str
    node: int


@dataclass(frozen=True, slots=True)
class DeviceOffline:
    app_pk: str
    username: str
    resource: str
    node: int


@dataclass(frozen=True, slots=True)
class UserChanged:
    """An account was deleted (or its name freed): drop what nodes cache about it."""

    app_pk: str
    username: str


@dataclass(frozen=True, slots=True)
class GroupChanged:
    """A group's settings, members or lists changed: drop what nodes cache about it."""

    group_id: str


@dataclass(frozen=True, slots=True)
class AppSettingsChanged:
    """An app's settings changed: every node drops its copy."""

    app_pk: str


@dataclass(frozen=True, slots=True)
class ContactsChanged:
    """These users' contacts or block lists changed: every node drops what it caches."""

    user_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PresenceNotify:
    """``uid``'s presence changed: these of its followers' sessions (on whichever node) get
    the NOTIFY JSON ``payload_head + '"<expiry>"' + payload_tail``, each with its own
    subscription's expiry (seconds), as the Web SDK reads it (agora-protocol-2.md §6.2)."""

    app_pk: str
    app_key: str
    uid: str
    payload_head: str
    payload_tail: str
    subscribers: tuple[str, ...]
    expiries: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MutesChanged:
    """An app's global mutes changed: every node drops its copy."""

    app_pk: str


@dataclass(frozen=True, slots=True)
class AppDisabled:
    """An app was banned (``disabled``) or restored: nodes forget the cached app, and on a
    ban close its sessions."""

    app_pk: str
    disabled: bool


Event = (
    Notice
    | KickDevices
    | DeviceOnline
    | DeviceOffline
    | UserChanged
    | GroupChanged
    | AppSettingsChanged
    | ContactsChanged
    | PresenceNotify
    | MutesChanged
    | AppDisabled
)

# The wire tag of each event type; the order is part of the bus format (append only).
EVENT_TYPES: tuple[type[Event], ...] = (
    Notice,
    KickDevices,
    DeviceOnline,
    DeviceOffline,
    UserChanged,
    GroupChanged,
    AppSettingsChanged,
    ContactsChanged,
    PresenceNotify,
    MutesChanged,
    AppDisabled,
)

E = TypeVar("E", bound=Event)


class EventBus(Protocol):
    async def publish(self, events: Sequence[Event]) -> None:
        """Deliver to this node's subscribers now and queue for the other nodes; never
        waits on a client or on another node."""
        ...

    def subscribe(self, kind: type[E], handler: Callable[[Sequence[E]], None]) -> None:
        """Call ``handler`` with every batch of ``kind`` events (from any node). Handlers
        run on the event loop and must not block."""
        ...
