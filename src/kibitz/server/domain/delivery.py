"""Where a send goes and what the domain makes of it: a *target*, and a *delivery*.

A send names a ``Target`` (a user, a group, a chat room, a thread). A ``Planner`` — one per
``TargetKind``, in ``MessagingService``'s table — turns it into a ``Delivery``: the message as
it is stored (``Draft``: written once, plus exactly its inbox rows) and the notices that tell
sessions to pull, each naming the session it skips. The store writes what it is given and
decides nothing; the planner decides everything and touches no table.

A 1:1 message lands in the recipient's queue named after the sender (and a copy in the
sender's own queue); a conversation's message lands once, in the conversation's queue, whose
rows belong to the conversation (``Conversation.key``) and which every member device reads
past its own cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final, NamedTuple, Protocol

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import USER_DOMAIN, content_from_pb, jid, pb

from .events import Notice
from .models import App

__all__ = [
    "MAX_CONTENT_BYTES",
    "BodyEncoder",
    "Delivery",
    "Draft",
    "InboxRow",
    "Planner",
    "Send",
    "Sender",
    "Stored",
    "Target",
    "TargetKind",
    "member_device",
    "meta_encoder",
    "validate_body",
]

MAX_CONTENT_BYTES: Final = 5 * 1024  # Agora: body plus ext of one message
_ACK_TYPES: Final = frozenset(
    {pb.MessageBody.READ_ACK, pb.MessageBody.DELIVER_ACK, pb.MessageBody.CHANNEL_ACK}
)
_CHAT_TYPES: Final = (pb.MessageBody.CHAT, pb.MessageBody.NORMAL)


class TargetKind(Enum):
    USER = "user"
    GROUP = "group"
    ROOM = "room"
    THREAD = "thread"


@dataclass(frozen=True, slots=True)
class Target:
    """Whom a send is for: a username, or a conversation's id."""

    kind: TargetKind
    name: str


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends: a logged-in device, or (REST) any name with no account behind it."""

    app: App
    username: str
    user_id: str | None
    resource: str = ""


class InboxRow(NamedTuple):
    """Deliver a message into ``owner``'s ``queue``; devices on ``skip_resource`` skip it.
    (A tuple: one or two are built per message on the hot path.)

    ``owner`` is a user id, or a conversation's key; in a conversation's queue
    ``skip_resource`` is a ``member_device`` (its rows are read by many users' devices)."""

    owner: str
    queue: str
    skip_resource: str | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """One message on its way to storage: written once, plus exactly ``rows``;
    ``encode(id, timestamp_ms)`` gives the Meta."""

    app_pk: str
    chat_type: str
    sender: str
    sender_resource: str
    recipient: str
    rows: tuple[InboxRow, ...]
    encode: Callable[[int, int], bytes]


@dataclass(frozen=True, slots=True)
class Stored:
    id: int
    timestamp_ms: int


class Delivery(NamedTuple):
    """A planned send: what to store, then whom to tell (each notice names the session
    it skips)."""

    draft: Draft
    notices: Sequence[Notice]


@dataclass(frozen=True, slots=True)
class Send:
    """One send as a planner sees it.

    ``online_only``: only devices online now get it (1:1; a conversation's one row is
    for every member alike). ``unknown_ok``: REST — a user without an account still gets a
    message id, and no delivery."""

    sender: Sender
    body: pb.MessageBody
    online_only: bool = False
    unknown_ok: bool = False


Planned = list[Delivery | ChatError]


class Planner(Protocol):
    """Turns a send to targets of one kind into deliveries; touches no table."""

    async def plan(self, send: Send, names: Sequence[str]) -> Planned:
        """A delivery or a refusal per name, in order. May raise ChatError for the whole
        send (an invalid body)."""
        ...

    async def plan_again(self, send: Send, names: Sequence[str], failed: Planned) -> Planned | None:
        """Writing ``failed`` raised: plan once more from fresh lookups, or None when that
        would change nothing (the failure is then raised)."""
        ...


def member_device(user_id: str, resource: str) -> str:
    """How a conversation's row names the one device that skips it (the sending one):
    resources are only unique per user, and the row is read by every member."""
    return f"{user_id}/{resource}"


def validate_body(
    body: pb.MessageBody, allowed: tuple[pb.MessageBody.Type, ...] = _CHAT_TYPES
) -> None:
    """What a client may send (``allowed``: the body types of the target's kind);
    raises ChatError."""
    if body.type in _ACK_TYPES:
        if not body.ack_message_id:
            raise ChatError(ErrorCode.MESSAGE_INVALID, "an acknowledgement needs a message id")
        return
    if body.type not in allowed:
        raise ChatError(ErrorCode.SERVICE_NOT_ENABLED, "message type not supported")
    if len(body.contents) != 1:
        raise ChatError(ErrorCode.MESSAGE_INVALID, "a message has exactly one content")
    content_from_pb(body.contents[0]).validate()
    size = body.contents[0].ByteSize() + sum(kv.ByteSize() for kv in body.ext)
    if size > MAX_CONTENT_BYTES:
        raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, "message is too large")


class BodyEncoder:
    """The downlink MessageBody of one send, encoded once for all its recipients.

    Protobuf writes fields in number order and ``to`` (3) sits between ``type``/``from``
    (1, 2) and everything else, so each recipient's body is ``head + to + tail``: the
    same bytes as encoding the whole message again, without copying it per recipient.
    A 1:1 NORMAL body goes down as CHAT; ``downlink`` sets another type (a conversation's).
    """

    def __init__(
        self,
        app_key: str,
        sender: Sender,
        body: pb.MessageBody,
        downlink: pb.MessageBody.Type | None = None,
    ) -> None:
        out = pb.MessageBody()
        out.CopyFrom(body)
        if downlink is not None:
            out.type = downlink
        elif out.type == pb.MessageBody.NORMAL:
            out.type = pb.MessageBody.CHAT
        head = pb.MessageBody(type=out.type)
        head.from_jid.name = sender.username
        out.ClearField("type")
        out.ClearField("from_jid")
        out.ClearField("to_jid")
        self._head = head.SerializeToString()
        self._tail = out.SerializeToString()
        self._app_key = app_key
        self._from_jid = jid(app_key, sender.username, USER_DOMAIN, sender.resource)

    def for_recipient(
        self, recipient: str, domain: str = USER_DOMAIN
    ) -> Callable[[int, int], bytes]:
        """The downlink Meta for ``recipient`` (a user, or a conversation in ``domain``),
        encoded once per message and stored as is."""
        to = pb.MessageBody()
        to.to_jid.name = recipient
        if domain != USER_DOMAIN:
            to.to_jid.domain = domain
        payload = self._head + to.SerializeToString() + self._tail
        to_jid = jid(self._app_key, recipient, domain)
        return meta_encoder(self._from_jid, to_jid, pb.Meta.CHAT, payload)


def meta_encoder(
    from_jid: pb.JID, to_jid: pb.JID, ns: pb.Meta.NameSpace, payload: bytes
) -> Callable[[int, int], bytes]:
    """A ``Draft.encode``: the downlink Meta once the message has its id and time."""

    def encode(message_id: int, timestamp_ms: int) -> bytes:
        meta = pb.Meta(
            id=message_id,
            from_jid=from_jid,
            to_jid=to_jid,
            timestamp=timestamp_ms,
            ns=ns,
            payload=payload,
        )
        return meta.SerializeToString()

    return encode
