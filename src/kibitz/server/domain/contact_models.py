"""Contacts as the domain keeps them: the records, the store port, Agora's limits, the
wording the SDKs key on — and the roster events, each change told as the Web SDK expects
it: a ``Meta{ns=ROSTER}`` carrying a ``RosterBody`` (agora-protocol-2.md §5.2), pulled like
a message.

An event is stored with one inbox row for the user it is for, in that user's own queue of
events (``ROSTER_QUEUE``, the one group events use): a user offline now sees a pending
request at its next login. ``Meta.from`` and ``RosterBody.from`` name the other party,
``to`` the receiver (the SDK reads ``to[0]`` unguarded). The acting device (the REST
``resource``) skips the events meant for its own user; its other devices get them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import jid, pb

from .delivery import Delivery, Draft, InboxRow, meta_encoder
from .events import Notice
from .group_events import EVENT_QUEUE
from .models import App

__all__ = [
    "BLOCKED",
    "MAX_BLOCK_BATCH",
    "MAX_REMARK",
    "NON_CONTACT",
    "NOT_FRIENDS",
    "ROSTER_QUEUE",
    "Contact",
    "ContactStore",
    "RosterEvent",
    "limit_reached",
    "roster_delivery",
]

# The user's own queue of server events, shared with group events (group_events.py): a
# name no user or group has, and the one such name the pull handler serves.
ROSTER_QUEUE: Final = EVENT_QUEUE
MAX_BLOCK_BATCH: Final = 50  # users per block-list call (Agora)
MAX_REMARK: Final = 100  # characters of a remark (Easemob's REST page)

# A send ack's reasons the Web SDK maps: "blocked" → 603, "nonroster" → 221 (§2.5).
BLOCKED: Final = "blocked"
NON_CONTACT: Final = "nonroster"
# The REST wording the Web SDK maps to USER_NOT_FRIEND (221) on a remark (§1.5).
NOT_FRIENDS: Final = "updateRemark | they are not friends, please add as a friend first."

Op = pb.RosterBody


@dataclass(frozen=True, slots=True)
class Contact:
    username: str
    remark: str = ""


class ContactStore(Protocol):
    """Contacts, pending requests and block lists, by user id (ids are unique across apps)."""

    async def contacts(self, user_id: str) -> list[Contact]:
        """By username."""
        ...

    async def contact_page(self, user_id: str, limit: int, after: str | None) -> list[Contact]:
        """Up to ``limit`` contacts with a username past ``after``, by username."""
        ...

    async def contact_ids(self, user_id: str) -> set[str]: ...

    async def count_contacts(self, user_id: str) -> int: ...

    async def add_contact(self, a: str, b: str, now_ms: int) -> bool:
        """Both sides, and any request between them gone, in one transaction; False when
        they were contacts already."""
        ...

    async def remove_contact(self, a: str, b: str) -> bool:
        """Both sides; False when they were no contacts."""
        ...

    async def set_remark(self, owner: str, contact: str, remark: str) -> bool:
        """False when ``contact`` is not ``owner``'s contact."""
        ...

    async def request_of(self, requester: str, invitee: str) -> str | None:
        """The reason of a pending request, None when there is none."""
        ...

    async def add_request(self, requester: str, invitee: str, reason: str, now_ms: int) -> None:
        """Record (or renew) a pending request."""
        ...

    async def remove_request(self, requester: str, invitee: str) -> bool: ...

    async def blocked(self, owner: str) -> list[str]:
        """The usernames ``owner`` blocked, newest first."""
        ...

    async def blocked_ids(self, owner: str) -> set[str]: ...

    async def block(self, owner: str, user_ids: Sequence[str], now_ms: int) -> None:
        """Add to the block list (those already on it keep their place)."""
        ...

    async def unblock(self, owner: str, user_ids: Sequence[str]) -> None: ...


def limit_reached(actor_full: bool, actor: str, peer: str) -> ChatError:
    """CONTACT_REACH_LIMIT (the caller is full) or CONTACT_REACH_LIMIT_PEER (the other side
    is): Agora's wordings, which the Web SDK maps to 50 (§1.5); the tail tells the Python SDK
    which side."""
    if actor_full:
        return ChatError(
            ErrorCode.CONTACT_REACH_LIMIT,
            f"Inviter's contact max count reached: the contact list of {actor} is full",
        )
    return ChatError(
        ErrorCode.CONTACT_REACH_LIMIT_PEER,
        f"Invitee's contact max count reached: the contact list of peer {peer} is full",
    )


@dataclass(frozen=True, slots=True)
class RosterEvent:
    """One ``RosterBody`` for ``receiver``: ``op`` by (or about) ``other``."""

    op: pb.RosterBody.Operation
    receiver: str  # username
    receiver_id: str
    other: str  # the other party: RosterBody.from and Meta.from
    reason: str = ""


def roster_delivery(app: App, event: RosterEvent, actor: str, resource: str = "") -> Delivery:
    """The delivery of ``event``; when its receiver is ``actor``, the device on
    ``resource`` skips it."""
    body = pb.RosterBody(operation=event.op)
    if event.reason:
        body.reason = event.reason
    body.from_jid.CopyFrom(jid(app.app_key, event.other))
    body.to.append(jid(app.app_key, event.receiver))
    from_jid = jid(app.app_key, event.other)
    to_jid = jid(app.app_key, event.receiver)
    encode = meta_encoder(from_jid, to_jid, pb.Meta.ROSTER, body.SerializeToString())
    skip = resource if event.receiver == actor and resource else None
    row = InboxRow(event.receiver_id, ROSTER_QUEUE, skip)
    notice = Notice(app.id, app.app_key, event.receiver, ROSTER_QUEUE, skip_resource=skip)
    draft = Draft(app.id, "roster", actor, resource, event.other, (row,), encode)
    return Delivery(draft, [notice])
