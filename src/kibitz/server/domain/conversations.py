"""Conversations (groups, chat rooms, threads): one queue each, written once per message.

A message to a conversation of N members is ONE message row and ONE inbox row, in the
conversation's queue, whose rows belong to the conversation (``Conversation.key``, not a
user); every member device reads that queue past its own cursor, kept like any other
(per user, resource and queue). The write costs the same for 3 members or 3,000; only the
notices (one per online member) grow with N.

What a conversation is and who belongs to it is the ``Conversations`` port's business. The
wired implementation, ``NoConversations``, knows none: a group send is refused with
GROUP_NOT_EXIST, a room send with CHATROOM_NOT_EXIST, a thread send with THREAD_NOT_EXIST,
and a pull of a conversation queue is empty. Groups, rooms and threads each arrive as an
implementation of this port (``MessagingService(conversations=...)``, and the same object
for ``SyncService``); the planners below need no change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import GROUP_DOMAIN, pb

from .delivery import (
    BodyEncoder,
    Delivery,
    Draft,
    InboxRow,
    Planned,
    Send,
    TargetKind,
    member_device,
    validate_body,
)
from .events import Notice
from .ports import SessionControl

__all__ = [
    "KINDS",
    "Conversation",
    "ConversationKind",
    "ConversationPlanner",
    "Conversations",
    "NoConversations",
    "conversation_queue",
    "is_conversation_queue",
]


@dataclass(frozen=True, slots=True)
class Conversation:
    """``key`` owns the conversation's inbox rows (≤ 64 characters, never a user id);
    ``queue`` is what member devices pull (``conversation_queue(name)``)."""

    app_pk: str
    kind: TargetKind
    name: str
    key: str
    queue: str
    since: int = 0  # from ``joined``/``member_of``: the member reads only ids past this


class Conversations(Protocol):
    """The conversations the domain delivers to. Usernames for notices, user ids for a
    device's own reads (a device knows its owner's id)."""

    async def find(self, app_pk: str, kind: TargetKind, name: str) -> Conversation | None: ...

    async def members(self, conversation: Conversation) -> Sequence[str]:
        """The members' usernames."""
        ...

    async def member_of(self, user_id: str, queue: str) -> Conversation | None:
        """The conversation behind ``queue``, if that user is one of its members."""
        ...

    async def joined(self, user_id: str) -> Sequence[Conversation]:
        """Every conversation that user is a member of (its UNREAD summary covers them)."""
        ...

    async def refusal(self, conversation: Conversation, username: str) -> ChatError | None:
        """Why this member may not post now (muted, the conversation disabled, …), if so."""
        ...

    async def unheeding(self, conversation: Conversation) -> set[str]:
        """Members who asked not to be told of new messages (Agora's message shielding)."""
        ...


class NoConversations:
    """No groups, rooms or threads (yet): every lookup finds nothing."""

    async def find(self, app_pk: str, kind: TargetKind, name: str) -> Conversation | None:
        return None

    async def members(self, conversation: Conversation) -> Sequence[str]:
        return ()

    async def member_of(self, user_id: str, queue: str) -> Conversation | None:
        return None

    async def joined(self, user_id: str) -> Sequence[Conversation]:
        return ()

    async def refusal(self, conversation: Conversation, username: str) -> ChatError | None:
        return None

    async def unheeding(self, conversation: Conversation) -> set[str]:
        return set()


def conversation_queue(name: str) -> str:
    """The queue of the conversation ``name`` (msync: its jid in the conference domain).
    A username never holds an "@", so it never names a conversation's queue."""
    return f"{name}@{GROUP_DOMAIN}"


def is_conversation_queue(queue: str) -> bool:
    return "@" in queue


@dataclass(frozen=True, slots=True)
class ConversationKind:
    """What differs between groups, rooms and threads when sending."""

    chat_type: str  # messages.chat_type
    body_type: pb.MessageBody.Type  # what clients send, and receive
    missing: Callable[[str], ChatError]
    not_joined: ErrorCode


KINDS: Final[dict[TargetKind, ConversationKind]] = {
    TargetKind.GROUP: ConversationKind(
        "groupchat",
        pb.MessageBody.GROUPCHAT,
        lambda name: (
            ChatError(ErrorCode.GROUP_NOT_EXIST, "group not found")
            if name.isascii() and name.isdigit()
            else ChatError(ErrorCode.GROUP_INVALID_ID, "group ID illegal, please check it")
        ),
        ErrorCode.GROUP_NOT_JOINED,
    ),
    TargetKind.ROOM: ConversationKind(
        "chatroom",
        pb.MessageBody.CHATROOM,
        lambda name: ChatError(ErrorCode.CHATROOM_NOT_EXIST, f"grpID {name} does not exist!"),
        ErrorCode.CHATROOM_NOT_JOINED,
    ),
    TargetKind.THREAD: ConversationKind(
        "thread",
        pb.MessageBody.GROUPCHAT,
        lambda name: ChatError(ErrorCode.THREAD_NOT_EXIST, f"thread {name} does not exist"),
        ErrorCode.GROUP_NOT_JOINED,
    ),
}


class ConversationPlanner:
    """Plans sends to the conversations of one kind: one row in the conversation's queue
    (skipped by the sending device), and a notice per online member."""

    def __init__(
        self, kind: TargetKind, conversations: Conversations, presence: SessionControl
    ) -> None:
        self._kind = KINDS[kind]
        self._target_kind = kind
        self._conversations = conversations
        self._presence = presence

    async def plan(self, send: Send, names: Sequence[str]) -> Planned:
        out: Planned = []
        for name in names:
            try:
                out.append(await self._one(send, name))
            except ChatError as exc:
                out.append(exc)
        return out

    async def plan_again(self, send: Send, names: Sequence[str], failed: Planned) -> Planned | None:
        return None  # nothing cached here that a fresh lookup could correct

    async def _one(self, send: Send, name: str) -> Delivery:
        sender, kind = send.sender, self._kind
        app = sender.app
        # The conversation first: a send to one that does not exist says so, whatever
        # its body (what clients were always told).
        conversation = await self._conversations.find(app.id, self._target_kind, name)
        if conversation is None:
            raise kind.missing(name)
        validate_body(send.body, (kind.body_type,))
        members = await self._conversations.members(conversation)
        if sender.user_id is not None:
            if sender.username not in members:
                raise ChatError(kind.not_joined, f"{sender.username} is not a member of {name}")
            refused = await self._conversations.refusal(conversation, sender.username)
            if refused is not None:
                raise refused
        skip = member_device(sender.user_id, sender.resource) if sender.user_id else None
        unheeding = await self._conversations.unheeding(conversation)
        told = [m for m in members if m not in unheeding] if unheeding else members
        online = await self._presence.online_users(app.id, told)
        queue = conversation.queue
        notices = [
            Notice(
                app.id,
                app.app_key,
                username,
                queue,
                skip_resource=sender.resource if username == sender.username else None,
            )
            for username in online
        ]
        encoder = BodyEncoder(app.app_key, sender, send.body, kind.body_type)
        draft = Draft(
            app.id,
            kind.chat_type,
            sender.username,
            sender.resource,
            name,
            (InboxRow(conversation.key, queue, skip),),
            encoder.for_recipient(name, GROUP_DOMAIN),
        )
        return Delivery(draft, notices)
