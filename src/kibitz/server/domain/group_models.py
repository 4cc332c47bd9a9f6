"""The group as the domain keeps it: a group, its members and their roles, what a create
asks for, the store port — and ``GroupConversations``, the ``Conversations`` port over that
store, which tells the delivery code which group a send or a pull names and who is in it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Final, Protocol

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._ids import first_id_at

from .conversations import Conversation, conversation_queue
from .delivery import TargetKind
from .ports import Clock

__all__ = [
    "DEFAULT_MAX_USERS",
    "DISABLED",
    "GROUP_KEY_PREFIX",
    "MAX_ADMINS",
    "MAX_BATCH",
    "MAX_CUSTOM_BYTES",
    "MAX_DESCRIPTION",
    "MAX_NAME",
    "Group",
    "GroupConversations",
    "GroupSpec",
    "GroupStore",
    "ListKind",
    "Member",
    "Role",
    "blacklisted",
    "check_inviter",
    "check_targets",
    "group_key",
    "is_group_id",
    "not_member",
    "role_of",
]

# The wording the Web SDK maps to GROUP_IS_DISABLED (608) on REST and on a send ack.
DISABLED: Final = "can not operate this group, reason: group is disabled"
DEFAULT_MAX_USERS: Final = 200
MAX_BATCH: Final = 60
MAX_ADMINS: Final = 99
MAX_NAME: Final = 128
MAX_DESCRIPTION: Final = 512
MAX_CUSTOM_BYTES: Final = 8 * 1024
GROUP_KEY_PREFIX: Final = "g:"


def group_key(group_id: str) -> str:
    """Who owns a group's inbox rows: never a user id (those are UUIDs), ≤ 64 chars."""
    return GROUP_KEY_PREFIX + group_id


class Role(Enum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


@dataclass(frozen=True, slots=True)
class Group:
    app_pk: str
    id: str
    name: str
    description: str
    owner: str  # a username
    public: bool
    approval: bool  # members_only: joining needs the owner's or an admin's approval
    allow_invites: bool  # members may invite
    invite_need_confirm: bool
    max_users: int
    custom: str
    avatar: str
    created_ms: int
    modified_ms: int
    disabled: bool = False
    mute_all: bool = False
    announcement: str = ""


class ListKind(Enum):
    """A group's lists of users: muted (until a time), allowed to post when all are
    muted, blocked from joining, waiting for an answer to an application or invitation."""

    MUTE = "mute"
    ALLOW = "allow"
    BLOCK = "block"
    APPLY = "apply"  # asked to join an approval group, waiting for the owner or an admin
    INVITE = "invite"  # invited to a group that wants the invitee's consent
    SHIELD = "shield"  # members who asked not to be told of the group's messages


@dataclass(frozen=True, slots=True)
class Member:
    group_id: str
    username: str
    user_id: str
    role: Role
    joined_ms: int


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """What a create asks for (Agora's REST keys, validated by the route's shape)."""

    name: str
    owner: str
    description: str = ""
    public: bool = False
    approval: bool = False
    allow_invites: bool = False
    invite_need_confirm: bool = False
    max_users: int = DEFAULT_MAX_USERS
    custom: str = ""
    avatar: str = ""
    members: tuple[str, ...] = ()


class GroupStore(Protocol):
    async def create(self, group: Group, members: Sequence[Member]) -> None: ...

    async def get(self, app_pk: str, group_id: str) -> Group | None: ...

    async def group_of(self, group_id: str) -> Group | None:
        """The group by id alone (ids are unique across apps; for lookups a user id scopes)."""
        ...

    async def member_ids(self, group_id: str) -> dict[str, str]:
        """user id → username of the members (what a pull asks: is this device's owner in)."""
        ...

    async def update(self, group: Group) -> None: ...

    async def delete(self, app_pk: str, group_id: str) -> None:
        """The group, its members and its queue's rows and cursors."""
        ...

    async def members(self, group_id: str) -> list[Member]:
        """Owner first, then by join time."""
        ...

    async def add_members(self, members: Sequence[Member]) -> None:
        """Users already in the group are left as they are."""
        ...

    async def remove_members(self, group_id: str, usernames: Sequence[str]) -> None: ...

    async def set_role(self, group_id: str, username: str, role: Role) -> None: ...

    async def transfer(self, group: Group, old_owner: str) -> None:
        """``group`` (its new ``owner`` a member) replaces the stored one, the new owner's
        role becomes OWNER and ``old_owner``'s MEMBER: in one transaction."""
        ...

    async def joined(self, user_id: str) -> list[Group]:
        """The groups that user (ids are unique across apps) is a member of, oldest first."""
        ...

    async def memberships(self, user_id: str) -> list[tuple[Group, int]]:
        """``joined``, each with the ms its membership began."""
        ...

    async def list_entries(self, group_id: str, kind: ListKind) -> dict[str, int]:
        """username → expires_ms (0: no expiry) of one of the group's lists."""
        ...

    async def add_entries(
        self, group_id: str, kind: ListKind, entries: dict[str, int], by: str = ""
    ) -> None:
        """Add or renew (a new expiry, and ``by``, replace the old)."""
        ...

    async def entry_by(self, group_id: str, kind: ListKind, username: str) -> str | None:
        """Who put ``username`` on the list ("" if nobody said), None if it is not on it."""
        ...

    async def remove_entries(
        self, group_id: str, kind: ListKind, usernames: Sequence[str]
    ) -> None: ...

    async def set_attributes(self, group_id: str, username: str, values: dict[str, str]) -> None:
        """A member's attributes: these keys set, those with an empty value removed."""
        ...

    async def attributes(
        self, group_id: str, usernames: Sequence[str], keys: Sequence[str] = ()
    ) -> dict[str, dict[str, str]]:
        """username → its attributes (only ``keys``, if given); absent users are left out."""
        ...

    async def page(self, app_pk: str, limit: int, after: str | None) -> list[Group]:
        """All of an app's groups by id, past ``after``."""
        ...


def is_group_id(name: str) -> bool:
    """Group ids are decimal numbers (snowflake ids), never a username's letters."""
    return name.isascii() and name.isdigit() and len(name) <= 32


_MAX_CONVERSATIONS: Final = 10_000  # remembered by ``member_of``, per node


@lru_cache(maxsize=4096)
def _group_of_queue(queue: str) -> str | None:
    """The group id whose queue this is, if it is one."""
    name = queue.partition("@")[0]
    return name if is_group_id(name) and queue == conversation_queue(name) else None


def _conversation(group: Group, since: int = 0) -> Conversation:
    return Conversation(
        group.app_pk,
        TargetKind.GROUP,
        group.id,
        group_key(group.id),
        conversation_queue(group.id),
        since,
    )


class GroupConversations:
    """The ``Conversations`` port over the group store: what a group send or pull names,
    and whether a member may post there now."""

    def __init__(self, store: GroupStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._conversations: dict[str, tuple[Group, Conversation]] = {}

    async def refusal(self, conversation: Conversation, username: str) -> ChatError | None:
        group = await self._store.get(conversation.app_pk, conversation.name)
        if group is None:
            return ChatError(ErrorCode.GROUP_NOT_EXIST, "group not found")
        if group.disabled:
            return ChatError(ErrorCode.GROUP_PERMISSION_DENIED, DISABLED)
        muted = (await self._store.list_entries(group.id, ListKind.MUTE)).get(username)
        if muted is not None and (muted == 0 or muted > self._clock.now_ms()):
            return ChatError(ErrorCode.USER_MUTED, "user is mute")
        if group.mute_all and username != group.owner:
            allowed = await self._store.list_entries(group.id, ListKind.ALLOW)
            if username not in allowed and not await self._is_admin(group.id, username):
                return ChatError(
                    ErrorCode.MESSAGE_ILLEGAL_WHITELIST, "not in group or chatroom white list"
                )
        return None

    async def _is_admin(self, group_id: str, username: str) -> bool:
        return any(
            m.username == username and m.role is Role.ADMIN
            for m in await self._store.members(group_id)
        )

    async def find(self, app_pk: str, kind: TargetKind, name: str) -> Conversation | None:
        if kind is not TargetKind.GROUP or not is_group_id(name):
            return None
        group = await self._store.get(app_pk, name)
        return None if group is None else _conversation(group)

    async def members(self, conversation: Conversation) -> Sequence[str]:
        return [m.username for m in await self._store.members(conversation.name)]

    async def member_of(self, user_id: str, queue: str) -> Conversation | None:
        """Asked at every pull of a group's queue (each member's, at every message):
        answered from the (cached) member ids, and the same ``Conversation`` object while
        the store hands back the same ``Group``."""
        name = _group_of_queue(queue)
        if name is None:
            return None
        username = (await self._store.member_ids(name)).get(user_id)
        if username is None:
            return None
        group = await self._store.group_of(name)
        if group is None or username in await self._store.list_entries(name, ListKind.SHIELD):
            return None
        known = self._conversations.get(name)
        if known is not None and known[0] is group:
            return known[1]
        if len(self._conversations) >= _MAX_CONVERSATIONS:
            self._conversations.clear()
        conversation = _conversation(group)
        self._conversations[name] = (group, conversation)
        return conversation

    async def joined(self, user_id: str) -> Sequence[Conversation]:
        """The user's groups, but those it shields (their messages leave UNREAD alone)."""
        out = []
        for g, joined_ms in await self._store.memberships(user_id):
            shield = await self._store.list_entries(g.id, ListKind.SHIELD)
            if shield and any(
                m.user_id == user_id and m.username in shield
                for m in await self._store.members(g.id)
            ):
                continue
            out.append(_conversation(g, first_id_at(joined_ms)))
        return out

    async def unheeding(self, conversation: Conversation) -> set[str]:
        return set(await self._store.list_entries(conversation.name, ListKind.SHIELD))


def not_member(username: str) -> str:
    """The wording the Web SDK maps to GROUP_NOT_JOINED (602) on REST answers."""
    return f"users [{username}] are not members of this group!"


def role_of(members: Sequence[Member], username: str | None) -> Role | None:
    for m in members:
        if m.username == username:
            return m.role
    return None


def check_targets(
    members: Sequence[Member],
    actor_role: Role,
    names: Sequence[str],
    verb: str,
    *,
    owner_ok: bool = False,
    outsiders_ok: bool = False,
) -> None:
    """The one rule for acting on other members: never on the owner (unless ``owner_ok``),
    on an admin only as the owner; each a member unless ``outsiders_ok``."""
    roles = {m.username: m.role for m in members}
    for name in names:
        role = roles.get(name)
        if role is None and not outsiders_ok:
            raise ChatError(ErrorCode.GROUP_NOT_JOINED, not_member(name))
        if (role is Role.OWNER and not owner_ok) or (
            role is Role.ADMIN and actor_role is Role.ADMIN
        ):
            raise ChatError(ErrorCode.GROUP_PERMISSION_DENIED, f"{name} cannot be {verb}")


def check_inviter(group: Group, members: Sequence[Member], actor: str) -> None:
    """Whether ``actor`` may bring people in: a member, and an admin or the owner unless
    the group lets members invite."""
    role = role_of(members, actor)
    if role is None:
        raise ChatError(ErrorCode.GROUP_NOT_JOINED, not_member(actor))
    if role is Role.MEMBER and not group.allow_invites:
        raise ChatError(ErrorCode.GROUP_PERMISSION_DENIED, "members may not invite to this group")


def blacklisted(username: str, group_id: str) -> ChatError:
    """What a blocked user is told (the Web SDK maps "is in the blacklist" to 603)."""
    return ChatError(
        ErrorCode.GROUP_PERMISSION_DENIED,
        f"user {username} can not join this group {group_id}, is in the blacklist",
    )
