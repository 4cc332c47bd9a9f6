"""1:1 messages: validate, write durably, only then acknowledge and notify.

Delivery follows msync's pull model. A message is stored once, with its downlink ``Meta``
already encoded; each owner (a user id) gets an inbox row in a *queue*, named after the peer
for received messages and after the owner itself for copies of what its other devices sent.
Every device keeps a cursor per queue: a pull returns what lies past it, an acknowledgement
moves it. Notices only say "pull this queue"; losing one delays, it never loses a message.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import USER_DOMAIN, content_from_pb, jid, pb

from .accounts import USERNAME_RE
from .events import Notice, UserChanged
from .models import App
from .ports import Clock, SessionControl

__all__ = [
    "MAX_CONTENT_BYTES",
    "Bus",
    "Device",
    "Draft",
    "InboxRow",
    "MessageStore",
    "MessagingService",
    "Notice",
    "QueueCount",
    "Registered",
    "Sender",
    "Stored",
    "unknown_user_reason",
]

MAX_CONTENT_BYTES: Final = 5 * 1024  # Agora: body plus ext of one message
MAX_CACHED: Final = 100_000  # username → id, and device counts, kept per node
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


class InboxRow(NamedTuple):
    """Deliver a message into ``owner``'s ``queue``; devices on ``skip_resource`` skip it.
    (A tuple: one or two are built per message on the hot path.)"""

    owner: str  # a user id (later also a conversation id)
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


class Registered(NamedTuple):
    new: bool  # the device was not known: it starts at the owner's most advanced cursors
    devices: int  # the owner's devices now


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


class MessageStore(Protocol):
    async def append(self, drafts: Sequence[Draft]) -> list[Stored]:
        """Write durably (one group commit), a Stored per draft. Raises when a row's owner
        no longer exists (nothing of that call is stored)."""
        ...

    async def ack(self, owner: str, resource: str, queue: str, key: int) -> None:
        """Everything ≤ key in ``queue`` reached that device. Written with the next commit;
        every later read about that device waits for it."""
        ...

    def ack_later(self, owner: str, resource: str, queue: str, key: int) -> None:
        """The same without waiting for room in the writer's queue (dropped if full)."""
        ...

    async def register_device(self, owner: str, resource: str, now_ms: int) -> Registered:
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
    """Sends 1:1 messages and decides their inbox rows.

    ``shared``: other nodes serve the same users, so this node's device counts may be
    stale; the sender's copy is then always written.
    """

    def __init__(
        self,
        store: MessageStore,
        bus: Bus,
        presence: SessionControl,
        clock: Clock,
        *,
        shared: bool = False,
        max_cached: int = MAX_CACHED,
    ) -> None:
        self.store = store
        self._bus = bus
        self._presence = presence
        self._clock = clock
        self._shared = shared
        self._max_cached = max_cached
        self._user_ids: OrderedDict[tuple[str, str], str] = OrderedDict()
        # Devices per user as of its last login here. A sender with one device needs no
        # copy for "its other devices" (a device added later starts past it anyway).
        self._devices: OrderedDict[str, int] = OrderedDict()

    # -- what this node remembers --------------------------------------------------------

    def device_count(self, owner: str, devices: int) -> None:
        """``owner`` has ``devices`` devices (told at each login)."""
        self._devices[owner] = devices
        self._devices.move_to_end(owner)
        while len(self._devices) > self._max_cached:
            self._devices.popitem(last=False)

    def forget_user(self, app_pk: str, username: str) -> None:
        """The account behind ``username`` is gone (or replaced): look it up again."""
        user_id = self._user_ids.pop((app_pk, username), None)
        if user_id is not None:
            self._devices.pop(user_id, None)

    def users_changed(self, events: Sequence[UserChanged]) -> None:
        """The bus's word that accounts went away, on this node or another."""
        for e in events:
            self.forget_user(e.app_pk, e.username)

    async def _resolve(self, app_pk: str, names: Sequence[str]) -> dict[str, str]:
        """username → user id for those that have an account; one query for the misses."""
        found: dict[str, str] = {}
        missing: list[str] = []
        for name in names:
            user_id = self._user_ids.get((app_pk, name))
            if user_id is None:
                missing.append(name)
            else:
                found[name] = user_id
        if missing:
            looked_up = await self.store.user_ids(app_pk, missing)
            for name, user_id in looked_up.items():
                self._user_ids[(app_pk, name)] = user_id
                found[name] = user_id
            while len(self._user_ids) > self._max_cached:
                self._user_ids.popitem(last=False)
        return found

    def _copies(self, sender: Sender) -> bool:
        """Whether the sender has devices, other than the sending one, to copy to."""
        if sender.user_id is None:
            return False
        if self._shared or not sender.resource:
            return True
        return self._devices.get(sender.user_id, 2) > 1

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
        names = [n for n in recipients if isinstance(n, str) and USERNAME_RE.match(n)]
        online = await self._presence.online_users(app.id, names) if online_only else None
        encoder = _BodyEncoder(app.app_key, sender, body)
        user_ids = await self._resolve(app.id, names)
        try:
            planned = self._plan(sender, recipients, user_ids, online, unknown_ok, encoder)
            stored = await self._append(planned)
        except Exception:
            # A cached id may belong to an account deleted meanwhile: look up again, and
            # retry once if that changes anything.
            for name in names:
                self.forget_user(app.id, name)
            fresh = await self._resolve(app.id, names)
            if fresh == user_ids:
                raise
            planned = self._plan(sender, recipients, fresh, online, unknown_ok, encoder)
            stored = await self._append(planned)
        notices: list[Notice] = []
        results: list[Stored | ChatError] = []
        it = iter(stored)
        for slot in planned:
            if isinstance(slot, ChatError):
                results.append(slot)
            else:
                results.append(next(it))
                notices.extend(slot[1])
        if notices:
            await self._bus.publish(notices)
        return results

    async def _append(self, planned: list[ChatError | tuple[Draft, list[Notice]]]) -> list[Stored]:
        drafts = [slot[0] for slot in planned if not isinstance(slot, ChatError)]
        return await self.store.append(drafts) if drafts else []

    def _plan(
        self,
        sender: Sender,
        recipients: Sequence[str],
        user_ids: dict[str, str],
        online: set[str] | None,
        unknown_ok: bool,
        encoder: _BodyEncoder,
    ) -> list[ChatError | tuple[Draft, list[Notice]]]:
        """Per recipient: an error, or the draft (which inbox rows) and whom to notify.

        The recipient's row goes into the queue named after the sender (not for a note
        to self, nor "online only" to someone offline); the sender's copy into the queue
        named after the sender, skipped by the sending device.
        """
        app = sender.app
        copy: InboxRow | None = None
        copy_notice: Notice | None = None
        if self._copies(sender):
            assert sender.user_id is not None
            copy = InboxRow(sender.user_id, sender.username, sender.resource)
            # The sender's other devices pull their copies from the queue named after the
            # sender; the notice names the sending device, which ignores it (and is skipped).
            copy_notice = Notice(
                app.id,
                app.app_key,
                sender.username,
                sender.username,
                queue_resource=sender.resource,
                skip_resource=sender.resource,
            )
        out: list[ChatError | tuple[Draft, list[Notice]]] = []
        for name in recipients:
            to_id = user_ids.get(name) if isinstance(name, str) else None
            if to_id is None and (not unknown_ok or not _valid_name(name)):
                out.append(ChatError(ErrorCode.USER_NOT_FOUND, unknown_user_reason(name)))
                continue
            rows: tuple[InboxRow, ...] = ()
            notices: list[Notice] = []
            delivered = online is None or name in online
            if to_id is not None and to_id != sender.user_id and delivered:
                rows = (InboxRow(to_id, sender.username, None),)
                notices.append(Notice(app.id, app.app_key, name, sender.username))
            if copy is not None and copy_notice is not None:
                rows = (*rows, copy)
                notices.append(copy_notice)
            draft = Draft(
                app.id,
                "chat",
                sender.username,
                sender.resource,
                name,
                rows,
                encoder.for_recipient(name),
            )
            out.append((draft, notices))
        return out

    async def user_id(self, app: App, username: str) -> str | None:
        """The account id behind ``username``, or None when there is no such account."""
        return (await self.store.user_ids(app.id, [username])).get(username)

    def now_ms(self) -> int:
        return self._clock.now_ms()


def _valid_name(name: object) -> bool:
    return isinstance(name, str) and USERNAME_RE.match(name) is not None


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
