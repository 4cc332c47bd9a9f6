"""Messages: validate, write durably, only then acknowledge and notify.

Delivery follows msync's pull model. A message is stored once, with its downlink ``Meta``
already encoded, plus an inbox row per queue it lands in: for a 1:1 message the recipient's
queue named after the sender and a copy in the sender's own queue (for its other devices);
for a conversation the conversation's one queue (``conversations``). Every device keeps a
cursor per queue: a pull returns what lies past it, an acknowledgement moves it. Notices
only say "pull this queue"; losing one delays, it never loses a message.

``MessagingService`` is the one way in: a send names a ``Target``; the planner of its kind
(the table in ``MessagingService.__init__``) turns it into deliveries (``delivery``), which
are written in one group commit and then notified.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import pb

from .accounts import USERNAME_RE
from .conversations import ConversationPlanner, Conversations, NoConversations
from .delivery import (
    MAX_CONTENT_BYTES,
    BodyEncoder,
    Delivery,
    Draft,
    InboxRow,
    Planned,
    Planner,
    Send,
    Sender,
    Stored,
    Target,
    TargetKind,
    validate_body,
)
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
    "SendRules",
    "Sender",
    "Stored",
    "UserPlanner",
    "unknown_user_reason",
    "validate_body",
]

MAX_CACHED: Final = 100_000  # username → id, and device counts, kept per node

_BodyEncoder = BodyEncoder  # the name tests and benchmarks know


def unknown_user_reason(username: str) -> str:
    """The wording the Web SDK maps to 204 on a send ack."""
    return f"username {username} doesn't exist!"


class Registered(NamedTuple):
    new: bool  # the device was not known: it starts at the owner's most advanced cursors
    devices: int  # the owner's devices now


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
        """Write durably (one group commit), a Stored per draft. Raises when the write
        fails (nothing of that call is stored). A row's owner is not checked: a user id
        or a conversation key alike."""
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

    async def unread(
        self, owner: str, resource: str, conversations: Sequence[tuple[str, str]] = ()
    ) -> list[QueueCount]:
        """Queues whose newest id lies past this device's cursor: the owner's own, and
        the ``(rows_owner, queue)`` of its conversations."""
        ...

    async def pull(
        self,
        owner: str,
        resource: str,
        queue: str,
        after: int,
        limit: int,
        rows_owner: str | None = None,
    ) -> list[tuple[int, bytes]]:
        """(id, Meta bytes) past max(after, the device's cursor), oldest first; answered
        from memory when the store can. ``rows_owner``: the queue's rows belong to a
        conversation (the device's cursor is still its own)."""
        ...

    async def nth_newest(self, rows_owner: str, queue: str, n: int) -> int:
        """The id below the queue's ``n`` newest rows (0 when it holds no more)."""
        ...

    async def devices(self, owner: str) -> list[Device]: ...

    async def user_ids(self, app_pk: str, usernames: Sequence[str]) -> dict[str, str]: ...


class Bus(Protocol):
    async def publish(self, notices: Sequence[Notice]) -> None:
        """Hand notices to whichever node holds the sessions; never blocks on a client."""
        ...


class SendRules(Protocol):
    """Which recipients of a 1:1 send refuse it (block lists, contacts only: ``contacts``)."""

    async def refusals(self, sender: Sender, recipients: Mapping[str, str]) -> dict[str, ChatError]:
        """username → why that recipient (username → user id) refuses; the rest accept."""
        ...


class SenderCheck(Protocol):
    """Whether the sender may send this kind at all (app-wide mutes: ``global_mutes``)."""

    async def check(self, sender: Sender, kind: TargetKind) -> None:
        """Raise the ChatError that refuses the send."""
        ...


class UserPlanner:
    """1:1 sends: the recipient's row and the sender's copy, with this node's memory of
    user ids (a bounded LRU) and of device counts.

    ``shared``: other nodes serve the same users, so this node's device counts may be
    stale; the sender's copy is then always written.
    """

    def __init__(
        self,
        store: MessageStore,
        presence: SessionControl,
        *,
        shared: bool = False,
        max_cached: int = MAX_CACHED,
        rules: SendRules | None = None,
    ) -> None:
        self._store = store
        self._presence = presence
        self._rules = rules
        self._shared = shared
        self._max_cached = max_cached
        self._user_ids: OrderedDict[tuple[str, str], str] = OrderedDict()
        # Devices per user as of its last login here. A sender with one device needs no
        # copy for "its other devices" (a device added later starts past it anyway).
        self._devices: OrderedDict[str, int] = OrderedDict()

    # -- what this node remembers --------------------------------------------------------

    def device_count(self, owner: str, devices: int) -> None:
        self._devices[owner] = devices
        self._devices.move_to_end(owner)
        while len(self._devices) > self._max_cached:
            self._devices.popitem(last=False)

    def forget_user(self, app_pk: str, username: str) -> None:
        user_id = self._user_ids.pop((app_pk, username), None)
        if user_id is not None:
            self._devices.pop(user_id, None)

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
            looked_up = await self._store.user_ids(app_pk, missing)
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

    # -- planning ------------------------------------------------------------------------

    async def plan(self, send: Send, names: Sequence[str]) -> Planned:
        validate_body(send.body)
        app_pk = send.sender.app.id
        valid = _valid_names(names)
        online = await self._presence.online_users(app_pk, valid) if send.online_only else None
        user_ids = await self._resolve(app_pk, valid)
        return self._plan(send, names, user_ids, online, await self._refusals(send, user_ids))

    async def plan_again(self, send: Send, names: Sequence[str], failed: Planned) -> Planned | None:
        """A cached id may belong to an account deleted meanwhile: look the names up again;
        None if that changes no row."""
        app_pk = send.sender.app.id
        valid = _valid_names(names)
        for name in valid:
            self.forget_user(app_pk, name)
        online = await self._presence.online_users(app_pk, valid) if send.online_only else None
        user_ids = await self._resolve(app_pk, valid)
        fresh = self._plan(send, names, user_ids, online, await self._refusals(send, user_ids))
        if [_rows(s) for s in fresh] == [_rows(s) for s in failed]:
            return None
        return fresh

    async def _refusals(self, send: Send, user_ids: dict[str, str]) -> dict[str, ChatError]:
        if self._rules is None or not user_ids:
            return {}
        return await self._rules.refusals(send.sender, user_ids)

    def _plan(
        self,
        send: Send,
        recipients: Sequence[str],
        user_ids: dict[str, str],
        online: set[str] | None,
        refused: dict[str, ChatError],
    ) -> Planned:
        """Per recipient: an error, or the draft (which inbox rows) and whom to notify.

        The recipient's row goes into the queue named after the sender (not for a note
        to self, nor "online only" to someone offline); the sender's copy into the queue
        named after the sender, skipped by the sending device.
        """
        sender = send.sender
        app = sender.app
        encoder = BodyEncoder(app.app_key, sender, send.body)
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
        out: Planned = []
        for name in recipients:
            to_id = user_ids.get(name) if isinstance(name, str) else None
            if to_id is None and (not send.unknown_ok or not _valid_name(name)):
                out.append(ChatError(ErrorCode.USER_NOT_FOUND, unknown_user_reason(name)))
                continue
            if name in refused:  # nothing is stored, not even the sender's copy
                out.append(refused[name])
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
            out.append(Delivery(draft, notices))
        return out


class MessagingService:
    """Sends messages: plans each by its target's kind, writes, then notifies.

    ``conversations``: the groups, rooms and threads there are (none by default: sends to
    them are refused as not existing). ``rules``: who refuses 1:1 messages (none: all
    accept). ``sender_checks``: whether the sender may send at all (app-wide mutes, the
    app's message rate).
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
        conversations: Conversations | None = None,
        rules: SendRules | None = None,
        sender_checks: Sequence[SenderCheck] = (),
    ) -> None:
        self.store = store
        self._sender_checks = tuple(sender_checks)
        self._bus = bus
        self._clock = clock
        self.users = UserPlanner(store, presence, shared=shared, max_cached=max_cached, rules=rules)
        known = conversations if conversations is not None else NoConversations()
        # The planner table: a new kind of target is a line here.
        self._planners: dict[TargetKind, Planner] = {
            TargetKind.USER: self.users,
            TargetKind.GROUP: ConversationPlanner(TargetKind.GROUP, known, presence),
            TargetKind.ROOM: ConversationPlanner(TargetKind.ROOM, known, presence),
            TargetKind.THREAD: ConversationPlanner(TargetKind.THREAD, known, presence),
        }

    # -- what this node remembers --------------------------------------------------------

    def device_count(self, owner: str, devices: int) -> None:
        """``owner`` has ``devices`` devices (told at each login)."""
        self.users.device_count(owner, devices)

    def forget_user(self, app_pk: str, username: str) -> None:
        """The account behind ``username`` is gone (or replaced): look it up again."""
        self.users.forget_user(app_pk, username)

    def users_changed(self, events: Sequence[UserChanged]) -> None:
        """The bus's word that accounts went away, on this node or another."""
        for e in events:
            self.users.forget_user(e.app_pk, e.username)

    # -- sending -------------------------------------------------------------------------

    async def send(
        self,
        sender: Sender,
        to: Target | str,
        body: pb.MessageBody,
        *,
        online_only: bool = False,
    ) -> Stored:
        """One message to one target (a bare name is a user). Raises ChatError; the
        sender's id is never the client's."""
        kind, name = (TargetKind.USER, to) if isinstance(to, str) else (to.kind, to.name)
        (result,) = await self.deliver(Send(sender, body, online_only), kind, [name])
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
        """One message per user, all in one group commit; a result per recipient.

        ``unknown_ok`` is Agora's REST behaviour: sending does not check that the recipient
        exists, so a name without an account still gets a message id (and no delivery).
        """
        send = Send(sender, body, online_only=online_only, unknown_ok=unknown_ok)
        return await self.deliver(send, TargetKind.USER, recipients)

    async def deliver(
        self, send: Send, kind: TargetKind, names: Sequence[str]
    ) -> list[Stored | ChatError]:
        """Plan (by ``kind``), write in one group commit, then notify; a result per name."""
        for check in self._sender_checks:
            await check.check(send.sender, kind)
        planner = self._planners[kind]
        planned = await planner.plan(send, names)
        try:
            stored = await self._append(planned)
        except Exception:
            again = await planner.plan_again(send, names, planned)
            if again is None:
                raise
            planned = again
            stored = await self._append(planned)
        notices: list[Notice] = []
        results: list[Stored | ChatError] = []
        it = iter(stored)
        for slot in planned:
            if isinstance(slot, ChatError):
                results.append(slot)
            else:
                results.append(next(it))
                notices.extend(slot.notices)
        if notices:
            await self._bus.publish(notices)
        return results

    async def post(self, deliveries: Sequence[Delivery]) -> list[Stored]:
        """Deliveries a feature built itself (a group's events): one group commit, then
        the notices."""
        stored = await self._append(list(deliveries))
        notices = [n for d in deliveries for n in d.notices]
        if notices:
            await self._bus.publish(notices)
        return stored

    async def _append(self, planned: Planned) -> list[Stored]:
        drafts = [slot.draft for slot in planned if not isinstance(slot, ChatError)]
        return await self.store.append(drafts) if drafts else []

    async def user_id(self, app: App, username: str) -> str | None:
        """The account id behind ``username``, or None when there is no such account."""
        return (await self.store.user_ids(app.id, [username])).get(username)

    def now_ms(self) -> int:
        return self._clock.now_ms()


def _valid_name(name: object) -> bool:
    return isinstance(name, str) and USERNAME_RE.match(name) is not None


def _valid_names(names: Sequence[str]) -> list[str]:
    return [n for n in names if isinstance(n, str) and USERNAME_RE.match(n)]


def _rows(slot: Delivery | ChatError) -> tuple[InboxRow, ...] | None:
    return None if isinstance(slot, ChatError) else slot.draft.rows
