"""Presence as the SDK hands it over: ``Presence`` (one user's state) and the event
``PresenceUpdated``, read from the NOTIFY metas the server sends (JSON ``type:"presence"``,
agora-protocol-2.md §6.2)::

    class Watcher:
        def on_presence_updated(self, presences: list[Presence]) -> None:
            for p in presences:
                print(p.user_id, p.description, p.devices)

    client.presence.add_presence_listener(Watcher())
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kibitz.protocol._msync import pb

__all__ = ["Presence", "PresenceListener", "PresenceUpdated", "presence_of", "presences_from_meta"]


@dataclass(frozen=True, slots=True)
class Presence:
    """One user's presence.

    Attributes:
        user_id: Whose.
        description: What the user published (its status text; ``ext`` on the wire).
        devices: Each device (resource) → its status: 1 online, 0 offline, anything else
            a custom status the device published. Empty: no device is online.
        last_time: When it last changed (epoch seconds).
        expiry: When my subscription to the user ends (epoch seconds; 0 without one).
    """

    user_id: str
    description: str = ""
    devices: Mapping[str, int] = field(default_factory=dict)
    last_time: int = 0
    expiry: int = 0

    @property
    def online(self) -> bool:
        return any(status != 0 for status in self.devices.values())

    def __hash__(self) -> int:
        return hash((self.user_id, self.last_time, self.description))


@dataclass(frozen=True, slots=True)
class PresenceUpdated:
    """Users I follow changed their presence (published, or a device came or went)."""

    presences: list[Presence]


class PresenceListener(Protocol):
    """Receives presence changes. The method is optional, and may be ``async``."""

    def on_presence_updated(self, presences: list[Presence]) -> object:
        """Users I follow changed, in the order the server told."""


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def presence_of(value: Any) -> Presence | None:
    """One ``{uid, last_time, expiry, ext, status}`` object as a ``Presence``."""
    if not isinstance(value, dict) or not isinstance(value.get("uid"), str):
        return None
    status = value.get("status")
    devices = {str(k): _int(v) for k, v in status.items()} if isinstance(status, dict) else {}
    ext = value.get("ext")
    return Presence(
        user_id=value["uid"],
        description=ext if isinstance(ext, str) else "",
        devices=devices,
        last_time=_int(value.get("last_time")),
        expiry=_int(value.get("expiry")),
    )


def presences_from_meta(meta: pb.Meta) -> list[Presence]:
    """The presences of a NOTIFY meta; [] for any other NOTIFY (or a malformed one)."""
    if meta.ns != pb.Meta.NOTIFY:
        return []
    try:
        event = json.loads(meta.payload)
    except ValueError:
        return []
    if not isinstance(event, dict) or event.get("type") != "presence":
        return []
    data = event.get("data")
    values = data.get("values") if isinstance(data, dict) else None
    if not isinstance(values, list):
        return []
    return [p for p in map(presence_of, values) if p is not None]
