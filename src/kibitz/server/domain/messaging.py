"""1:1 messages: validate, write durably, only then acknowledge and notify.

Delivery follows msync's pull model. A message is stored once, with its downlink ``Meta``
already encoded; each owner (a user id) gets an inbox row in a *queue*, named after the peer
for received messages and after the owner itself for copies of what its other devices sent.
Every device keeps a cursor per queue: a pull returns what lies past it, an acknowledgement
moves it. Notices only say "pull this queue"; losing one delays, it never loses a message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import USER_DOMAIN, content_from_pb, jid, pb

from .accounts import USERNAME_RE
from .models import App
from .ports import Clock, SessionControl

__all__ = [
    "MAX_CONTENT_BYTES",
    "Bus",
    "Device",
    "Draft",
    "MessageStore",
    "MessagingService",
    "Notice",
    "QueueCount",
    "Sender",
    "Stored",
    "unknown_user_reason",
]

MAX_CONTENT_BYTES: Final = 5 * 1024  # Agora: body plus ext of one message
_ACK_TYPES: Final = frozenset(
    {pb.MessageBody.READ_ACK, pb.MessageBody.DELIVER_ACK, pb.MessageBody.CHANNEL_ACK}
)


def unknown_user_reason(username: str) -> str:
    """The wording the Web SDK maps to 204 on a send ack."""
    return f"username {username} doesn't exist!"


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends: a logged-in device, or (REST) any name with no account behind it."""

    app: App
    username: str
    user_id: str | None
    resource: str = ""


@dataclass(frozen=True, slots=True)
class Draft:
    """One message on its way to storage; ``encode(id, timestamp_ms)`` gives the Meta."""

    app_pk: str
    chat_type: str
    sender: str
    sender_id: str | None
    sender_resource: str
    recipient: str
    recipient_inbox: bool  # False: routed "online only" to a peer who is offline
    encode: Callable[[int, int], bytes]
    require_recipient: bool = True  # False (REST): stored even if nobody has that name


@dataclass(frozen=True, slots=True)
class Stored:
    id: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class QueueCount:
    queue: str
    count: int
    last_id: int  # newest id in the queue, whether or not this device will see it


@dataclass(frozen=True, slots=True)
class Device:
    resource: str
    created_ms: int
    last_seen_ms: int


@dataclass(frozen=True, slots=True)
class Notice:
    """Tell ``username``'s sessions (but the one on ``skip_resource``) to pull ``queue``."""

    app_pk: str
    app_key: str
    username: str
    queue: str
    queue_resource: str = ""
    skip_resource: str | None = None


class MessageStore(Protocol):
    async def append(self, drafts: Sequence[Draft]) -> list[Stored | None]:
        """Write durably (one group commit); None where a required recipient has no
        account (a draft that does not require one is stored without an inbox row)."""
        ...

    async def ack(self, owner: str, resource: str, queue: str, key: int) -> None:
        """Everything ≤ key in ``queue`` reached that device. Written with the next commit;
        every later read about that device waits for it."""
        ...

    def ack_later(self, owner: str, resource: str, queue: str, key: int) -> None:
        """The same without waiting for room in the writer's queue (dropped if full)."""
        ...

    async def register_device(self, owner: str, resource: str, now_ms: int) -> bool:
        """Record a login; a new device starts at the owner's most advanced cursors."""
        ...

    async def online(self, owner: str, resource: str) -> dict[str, int]:
        """A device logged in here: its cursors, which the store now tracks in memory."""
        ...

    def offline(self, owner: str, resource: str) -> None:
        """That device has no session here any more."""
        ...

    async def unread(self, owner: str, resource: str) -> list[QueueCount]:
        """Queues whose newest id lies past this device's cursor."""
        ...

    async def pull(
        self, owner: str, resource: str, queue: str, after: int, limit: int
    ) -> list[tuple[int, bytes]]:
        """(id, Meta bytes) past max(after, the device's cursor), oldest first; answered
        from memory when the store can."""
        ...

    async def devices(self, owner: str) -> list[Device]: ...

    async def user_ids(self, app_pk: str, usernames: Sequence[str]) -> dict[str, str]: ...


class Bus(Protocol):
    async def publish(self, notices: Sequence[Notice]) -> None:
        """Hand notices to whichever node holds the sessions; never blocks on a client."""
        ...


class MessagingService:
    def __init__(
        self, store: MessageStore, bus: Bus, presence: SessionControl, clock: Clock
    ) -> None:
        self.store = store
        self._bus = bus
        self._presence = presence
        self._clock = clock

    # -- sending -------------------------------------------------------------------------

    async def send(
        self, sender: Sender, recipient: str, body: pb.MessageBody, *, online_only: bool = False
    ) -> Stored:
        """Validate, store, notify. Raises ChatError; the sender's id is never the client's."""
        (result,) = await self.send_many(sender, [recipient], body, online_only=online_only)
        if isinstance(result, ChatError):
            raise result
        return result

    async def send_many(
        self,
        sender: Sender,
        recipients: Sequence[str],
        body: pb.MessageBody,
        *,
        online_only: bool = False,
        unknown_ok: bool = False,
    ) -> list[Stored | ChatError]:
        """One message per recipient, all in one group commit; a result per recipient.

        ``unknown_ok`` is Agora's REST behaviour: sending does not check that the recipient
        exists, so a name without an account still gets a message id (and no delivery).
        """
        validate_body(body)
        app = sender.app
        online = self._presence.online_users(app.id, list(recipients)) if online_only else set()
        drafts: list[Draft] = []
        encoder = _BodyEncoder(app.app_key, sender, body)
        results: list[Stored | ChatError | None] = []
        for name in recipients:
            if not isinstance(name, str) or not USERNAME_RE.match(name):
                results.append(ChatError(ErrorCode.USER_NOT_FOUND, unknown_user_reason(name)))
                continue
            results.append(None)
            drafts.append(
                Draft(
                    app_pk=app.id,
                    chat_type="chat",
                    sender=sender.username,
                    sender_id=sender.user_id,
                    sender_resource=sender.resource,
                    recipient=name,
                    recipient_inbox=not online_only or name in online,
                    encode=encoder.for_recipient(name),
                    require_recipient=not unknown_ok,
                )
            )
        stored = await self.store.append(drafts) if drafts else []
        notices: list[Notice] = []
        it = iter(zip(drafts, stored, strict=True))
        for i, slot in enumerate(results):
            if slot is not None:
                continue
            draft, done = next(it)
            if done is None:
                results[i] = ChatError(
                    ErrorCode.USER_NOT_FOUND, unknown_user_reason(draft.recipient)
                )
                continue
            results[i] = done
            notices.extend(_notices_for(app, draft))
        if notices:
            await self._bus.publish(notices)
        return [r for r in results if r is not None]

    async def user_id(self, app: App, username: str) -> str | None:
        """The account id behind ``username``, or None when there is no such account."""
        return (await self.store.user_ids(app.id, [username])).get(username)

    def now_ms(self) -> int:
        return self._clock.now_ms()


def validate_body(body: pb.MessageBody) -> None:
    """What a client may send as a 1:1 message; raises ChatError."""
    if body.type in _ACK_TYPES:
        if not body.ack_message_id:
            raise ChatError(ErrorCode.MESSAGE_INVALID, "an acknowledgement needs a message id")
        return
    if body.type not in (pb.MessageBody.CHAT, pb.MessageBody.NORMAL):
        raise ChatError(ErrorCode.SERVICE_NOT_ENABLED, "message type not supported")
    if len(body.contents) != 1:
        raise ChatError(ErrorCode.MESSAGE_INVALID, "a message has exactly one content")
    content_from_pb(body.contents[0]).validate()
    size = body.contents[0].ByteSize() + sum(kv.ByteSize() for kv in body.ext)
    if size > MAX_CONTENT_BYTES:
        raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, "message is too large")


class _BodyEncoder:
    """The downlink MessageBody of one send, encoded once for all its recipients.

    Protobuf writes fields in number order and ``to`` (3) sits between ``type``/``from``
    (1, 2) and everything else, so each recipient's body is ``head + to + tail``: the
    same bytes as encoding the whole message again, without copying it per recipient.
    """

    def __init__(self, app_key: str, sender: Sender, body: pb.MessageBody) -> None:
        out = pb.MessageBody()
        out.CopyFrom(body)
        if out.type == pb.MessageBody.NORMAL:
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

    def for_recipient(self, recipient: str) -> Callable[[int, int], bytes]:
        """The downlink Meta for ``recipient``, encoded once per message and stored as is."""
        to = pb.MessageBody()
        to.to_jid.name = recipient
        payload = self._head + to.SerializeToString() + self._tail
        from_jid, to_jid = self._from_jid, jid(self._app_key, recipient)

        def encode(message_id: int, timestamp_ms: int) -> bytes:
            meta = pb.Meta(
                id=message_id,
                from_jid=from_jid,
                to_jid=to_jid,
                timestamp=timestamp_ms,
                ns=pb.Meta.CHAT,
                payload=payload,
            )
            return meta.SerializeToString()

        return encode


def _meta_encoder(
    app_key: str, sender: Sender, recipient: str, body: pb.MessageBody
) -> Callable[[int, int], bytes]:
    """The downlink Meta for one recipient (see ``_BodyEncoder``)."""
    return _BodyEncoder(app_key, sender, body).for_recipient(recipient)


def _notices_for(app: App, draft: Draft) -> list[Notice]:
    notices = []
    if draft.recipient_inbox and draft.recipient != draft.sender:
        notices.append(Notice(app.id, app.app_key, draft.recipient, draft.sender))
    if draft.sender_id is not None:
        # The sender's other devices pull their copies from the queue named after the
        # sender; the notice names the sending device, which ignores it (and is skipped).
        notices.append(
            Notice(
                app.id,
                app.app_key,
                draft.sender,
                draft.sender,
                queue_resource=draft.sender_resource,
                skip_resource=draft.sender_resource,
            )
        )
    return notices
