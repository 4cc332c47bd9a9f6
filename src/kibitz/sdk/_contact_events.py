"""Contact events: each ``Meta{ns=ROSTER}`` the server sends (a ``RosterBody``) as a
``ContactEvent`` named like the official Web SDK's callbacks (agora-protocol-2.md §5.2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from kibitz.protocol._msync import FrameError, decode_payload, pb

__all__ = ["OPERATIONS", "ContactEvent", "ContactListener", "contact_event_from_meta"]

R = pb.RosterBody

# RosterBody.Operation → the Web SDK's callback (without "on"); both declines are refusals.
OPERATIONS: Final[Mapping[int, str]] = {
    R.ADD: "contactInvited",
    R.REMOVE: "contactDeleted",
    R.ACCEPT: "contactAdded",
    R.DECLINE: "contactRefuse",
    R.REMOTE_ACCEPT: "contactAgreed",
    R.REMOTE_DECLINE: "contactRefuse",
}


@dataclass(frozen=True, slots=True)
class ContactEvent:
    """Something happened between me and another user.

    Attributes:
        operation: The Web SDK's name: ``contactInvited`` (``user`` asks to be my contact;
            ``reason`` is its message), ``contactAgreed`` (``user`` accepted my request),
            ``contactRefuse`` (``user`` declined it — or, ``code`` DECLINE, I declined
            ``user`` on another device), ``contactAdded`` (``user`` is my contact now),
            ``contactDeleted`` (``user`` is no contact any more).
        user: The other party.
        reason: The request's message.
        code: The ``RosterBody`` operation number.
        timestamp: Server time of the event, in milliseconds.
        event_id: The server's id of the event.
    """

    operation: str
    user: str
    reason: str = ""
    code: int = -1
    timestamp: int = 0
    event_id: str = ""


class ContactListener(Protocol):
    """Receives contact events. The method is optional, and may be ``async``."""

    def on_contact_event(self, event: ContactEvent) -> object:
        """One contact event, in the order the server committed them."""


def contact_event_from_meta(meta: pb.Meta) -> ContactEvent | None:
    """A pulled ROSTER ``Meta`` as a ``ContactEvent``; ``None`` for anything else."""
    if meta.ns != pb.Meta.ROSTER:
        return None
    try:
        body = decode_payload(pb.RosterBody, meta.payload)
    except FrameError:
        return None
    name = OPERATIONS.get(body.operation) if body.HasField("operation") else None
    user = body.from_jid.name or meta.from_jid.name
    if name is None or not user:
        return None
    return ContactEvent(
        operation=name,
        user=user,
        reason=body.reason,
        code=int(body.operation),
        timestamp=meta.timestamp,
        event_id=str(meta.id),
    )
