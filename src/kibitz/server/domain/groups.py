"""Groups: who may create, join, leave and manage them; and, as the ``Conversations`` port,
which group a send or a pull names and who belongs to it.

A group is a conversation (``conversations.py``): its messages are written once, into its
queue (``{id}@conference.easemob.com``), whose rows belong to ``group_key(id)``; each member
device reads that queue past its own cursor. This module decides membership and roles; the
store only keeps them, and the delivery code never changes for a new feature of groups.

Agora's rules kept here: ``maxusers`` counts the owner (default 200, at most
``max_group_users`` per app); the owner is a member and cannot leave (it transfers or
destroys); ≤ 60 users per batch; only open public groups are joined without approval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from kibitz.protocol import ChatError, ErrorCode, IdGenerator
from kibitz.protocol._msync import pb

from .accounts import USERNAME_RE
from .app_settings import AppSettings, AppSettingsReader
from .conversations import conversation_queue
from .delivery import Delivery
from .group_events import EventPoster, GroupEvent, event_delivery, recipients, update_ext
from .group_models import (
    DEFAULT_MAX_USERS,
    MAX_BATCH,
    MAX_CUSTOM_BYTES,
    MAX_DESCRIPTION,
    MAX_NAME,
    Group,
    GroupConversations,
    GroupSpec,
    GroupStore,
    ListKind,
    Member,
    Role,
    blacklisted,
    check_inviter,
    check_targets,
    group_key,
    is_group_id,
    not_member,
    role_of,
)
from .models import App
from .ports import Clock

__all__ = [
    "DEFAULT_MAX_USERS",
    "MAX_BATCH",
    "Group",
    "GroupConversations",
    "GroupService",
    "GroupSpec",
    "GroupStore",
    "Member",
    "Role",
    "group_key",
]


class UserIds(Protocol):
    """username → user id for those that have an account (the message store has it)."""

    async def user_ids(self, app_pk: str, usernames: Sequence[str]) -> dict[str, str]: ...


class MemberCursors(Protocol):
    """Where a new member's devices start reading the group's queue (``SyncService``)."""

    async def start_at(self, owner: str, queue: str, key: int) -> None: ...


class GroupService:
    def __init__(
        self,
        store: GroupStore,
        users: UserIds,
        clock: Clock,
        ids: IdGenerator,
        *,
        app_settings: AppSettingsReader | None = None,
        events: EventPoster | None = None,
        cursors: MemberCursors | None = None,
    ) -> None:
        self._events = events
        self._cursors = cursors
        self._store = store
        self._users = users
        self._clock = clock
        self._ids = ids
        self._app_settings = app_settings

    async def _max_users(self, app: App) -> int:
        """The app's ceiling on ``maxusers`` (its settings; Agora's largest plan: 5,000)."""
        if self._app_settings is None:
            return AppSettings().max_group_users
        return (await self._app_settings.get(app.id)).max_group_users

    # -- reading -------------------------------------------------------------------------

    async def get(self, app: App, group_id: str) -> Group:
        """The group, or GROUP_INVALID_ID (not an id at all) / GROUP_NOT_EXIST."""
        if not is_group_id(group_id):
            raise ChatError(
                ErrorCode.GROUP_INVALID_ID, f"group ID illegal, please check it: {group_id!r}"
            )
        group = await self._store.get(app.id, group_id)
        if group is None:
            raise ChatError(ErrorCode.GROUP_NOT_EXIST, f"do not find this group: {group_id}")
        return group

    async def members(self, app: App, group_id: str) -> list[Member]:
        await self.get(app, group_id)
        return await self._store.members(group_id)

    async def member(self, app: App, group_id: str, username: str) -> Member | None:
        for m in await self.members(app, group_id):
            if m.username == username:
                return m
        return None

    async def joined(self, app: App, username: str) -> list[Group]:
        user_id = (await self._users.user_ids(app.id, [username])).get(username)
        if user_id is None:
            raise ChatError(ErrorCode.USER_NOT_FOUND, f"username {username} doesn't exist!")
        return await self._store.joined(user_id)

    async def page(self, app: App, limit: int, after: str | None) -> list[Group]:
        return await self._store.page(app.id, limit, after)

    # -- lifecycle -----------------------------------------------------------------------

    async def create(self, app: App, spec: GroupSpec, resource: str = "") -> Group:
        if not spec.name:
            raise ChatError(ErrorCode.GROUP_PERMISSION_DENIED, "a group needs a name")
        _limit(spec.name, "groupname", MAX_NAME)
        _limit(spec.description, "desc", MAX_DESCRIPTION)
        if len(spec.custom.encode()) > MAX_CUSTOM_BYTES:
            raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, "custom is larger than 8 KB")
        ceiling = await self._max_users(app)
        if not 1 <= spec.max_users <= ceiling:
            raise ChatError(
                ErrorCode.EXCEED_SERVICE_LIMIT, f"maxusers must be between 1 and {ceiling}"
            )
        invited = [n for n in dict.fromkeys(spec.members) if n != spec.owner]
        if len(invited) > MAX_BATCH:
            raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, f"at most {MAX_BATCH} members at once")
        if 1 + len(invited) > spec.max_users:
            raise ChatError(
                ErrorCode.GROUP_MEMBERS_FULL, "members size is greater than max user size !"
            )
        ids = await self.user_ids(app, [spec.owner, *invited])
        now = self._clock.now_ms()
        group = Group(
            app_pk=app.id,
            id=str(self._ids.next_id()),
            name=spec.name,
            description=spec.description,
            owner=spec.owner,
            public=spec.public,
            approval=spec.approval,
            allow_invites=spec.allow_invites,
            invite_need_confirm=spec.invite_need_confirm,
            max_users=spec.max_users,
            custom=spec.custom,
            avatar=spec.avatar,
            created_ms=now,
            modified_ms=now,
        )
        members = [Member(group.id, spec.owner, ids[spec.owner], Role.OWNER, now)]
        members += [Member(group.id, n, ids[n], Role.MEMBER, now) for n in invited]
        await self._store.create(group, members)
        owner = members[:1]
        events = [self._event(app, Op.CREATE, group.id, spec.owner, owner, resource)]
        for m in members[1:]:
            joined = GroupEvent(
                Op.DIRECT_JOINED, group.id, spec.owner, (m.username,), muc_name=group.name
            )
            events.append(event_delivery(app, joined, recipients([m])))
        await self.post(events)
        return group

    async def modify(
        self,
        app: App,
        group_id: str,
        actor: str | None,
        changes: dict[str, object],
        resource: str = "",
    ) -> Group:
        """Change name, description, custom, avatar, max_users, public/approval/invite
        flags; ``actor`` None is the app (admin REST), else the owner or an admin."""
        group = await self.get(app, group_id)
        await self._require_admin(app, group, actor)
        if "name" in changes:
            _limit(str(changes["name"]), "groupname", MAX_NAME)
        if "description" in changes:
            _limit(str(changes["description"]), "description", MAX_DESCRIPTION)
        if "custom" in changes and len(str(changes["custom"]).encode()) > MAX_CUSTOM_BYTES:
            raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, "custom is larger than 8 KB")
        if "max_users" in changes:
            wanted = changes["max_users"]
            assert isinstance(wanted, int)
            count = len(await self._store.members(group_id))
            if not max(1, count) <= wanted <= await self._max_users(app):
                raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, "maxusers out of range")
        updated = replace(group, **changes, modified_ms=self._clock.now_ms())  # type: ignore[arg-type]
        await self._store.update(updated)
        event = GroupEvent(
            Op.UPDATE, group_id, actor or group.owner, ext=update_ext(changes, updated.modified_ms)
        )
        members = await self._store.members(group_id)
        await self.post([event_delivery(app, event, recipients(members), resource=resource)])
        return updated

    async def destroy(
        self, app: App, group_id: str, actor: str | None, resource: str = ""
    ) -> Group:
        group = await self.get(app, group_id)
        if actor is not None and actor != group.owner:
            raise ChatError(
                ErrorCode.GROUP_PERMISSION_DENIED, "only the owner can destroy the group"
            )
        members = await self._store.members(group_id)
        await self._store.delete(app.id, group_id)
        event = GroupEvent(Op.DESTROY, group_id, actor or group.owner, muc_name=group.name)
        await self.post([event_delivery(app, event, recipients(members), resource=resource)])
        return group

    async def users_removing(self, app: App, usernames: Sequence[str]) -> None:
        """Accounts are about to go: the groups they own are destroyed with them (Agora's
        rule), their members told; the groups they only belong to lose them by cascade."""
        ids = await self._users.user_ids(app.id, [n for n in usernames if isinstance(n, str)])
        for username, user_id in ids.items():
            for group in await self._store.joined(user_id):
                if group.owner == username:
                    await self.destroy(app, group.id, None)

    # -- membership ----------------------------------------------------------------------

    async def join(self, app: App, group_id: str, username: str, resource: str = "") -> Member:
        """Join an open public group (an approval group or a private one refuses)."""
        group = await self.get(app, group_id)
        members = await self._store.members(group_id)
        if any(m.username == username for m in members):
            raise ChatError(
                ErrorCode.GROUP_ALREADY_JOINED,
                # both phrases: what the Web SDK needs to report 601 (§1.5)
                f"invite users to join group failed: {username} already in group {group_id}",
            )
        if not group.public or group.approval:
            raise ChatError(
                ErrorCode.GROUP_PERMISSION_DENIED,
                "this group cannot be joined without an invitation or approval",
            )
        added = await self._add(app, group, members, [username])
        await self._presence(app, group, [*members, *added], added, resource)
        return added[0]

    async def add_members(
        self,
        app: App,
        group_id: str,
        actor: str | None,
        usernames: Sequence[str],
        resource: str = "",
    ) -> list[Member]:
        """Add users directly (the app, the owner, an admin, or a member when the group
        allows invites); those already in the group are skipped."""
        group = await self.get(app, group_id)
        members = await self._store.members(group_id)
        if actor is not None:
            check_inviter(group, members, actor)
        present = {m.username for m in members}
        new = [n for n in dict.fromkeys(usernames) if n not in present]
        added = await self._add(app, group, members, new)
        by = actor or group.owner
        events = [
            event_delivery(
                app,
                GroupEvent(Op.DIRECT_JOINED, group_id, by, (m.username,), muc_name=group.name),
                recipients([m]),
            )
            for m in added
        ]
        await self.post(events)
        await self._presence(app, group, members, added, resource, actor)
        return added

    async def _add(
        self, app: App, group: Group, members: Sequence[Member], names: Sequence[str]
    ) -> list[Member]:
        if len(names) > MAX_BATCH:
            raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, f"at most {MAX_BATCH} users at once")
        if len(members) + len(names) > group.max_users:
            raise ChatError(ErrorCode.GROUP_MEMBERS_FULL, "group member list is full!")
        blocked = await self._store.list_entries(group.id, ListKind.BLOCK)
        for name in names:
            if name in blocked:
                raise blacklisted(name, group.id)
        ids = await self.user_ids(app, names)
        now = self._clock.now_ms()
        added = [Member(group.id, n, ids[n], Role.MEMBER, now) for n in names]
        await self._store.add_members(added)
        for m in added:  # past every message stored so far: a (re)joining member
            await self.start_at_head(m.user_id, group.id)
        return added

    async def admit(
        self, app: App, group_id: str, usernames: Sequence[str], resource: str = ""
    ) -> list[Member]:
        """Add users whose application or invitation was accepted: the members hear of
        them (PRESENCE); what the new members hear is the caller's (APPLY_ACCEPT, …)."""
        group = await self.get(app, group_id)
        members = await self._store.members(group_id)
        present = {m.username for m in members}
        added = await self._add(app, group, members, [n for n in usernames if n not in present])
        await self._presence(app, group, members, added, resource)
        return added

    async def start_at_head(self, user_id: str, group_id: str) -> None:
        """That member's devices have read the group up to now (joining, unshielding)."""
        if self._cursors is not None:
            queue = conversation_queue(group_id)
            await self._cursors.start_at(user_id, queue, self._ids.next_id())

    async def leave(self, app: App, group_id: str, username: str, resource: str = "") -> None:
        group = await self.get(app, group_id)
        members = await self._store.members(group_id)
        if role_of(members, username) is None:
            raise ChatError(ErrorCode.GROUP_NOT_JOINED, not_member(username))
        if username == group.owner:
            raise ChatError(ErrorCode.GROUP_PERMISSION_DENIED, "the owner cannot leave the group")
        await self._store.remove_members(group_id, [username])
        event = GroupEvent(Op.ABSENCE, group_id, username, member_count=len(members) - 1)
        await self.post([event_delivery(app, event, recipients(members), resource=resource)])

    async def remove_members(
        self,
        app: App,
        group_id: str,
        actor: str | None,
        usernames: Sequence[str],
        resource: str = "",
    ) -> list[str]:
        """Remove members (never the owner); an admin cannot remove another admin."""
        group = await self.get(app, group_id)
        if len(usernames) > MAX_BATCH:
            raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, f"at most {MAX_BATCH} users at once")
        members = await self._store.members(group_id)
        actor_role = await self._require_admin(app, group, actor, members)
        check_targets(members, actor_role, usernames, "removed")
        removed = list(dict.fromkeys(usernames))
        await self._store.remove_members(group_id, removed)
        by = actor or group.owner
        gone = [m for m in members if m.username in removed]
        staying = [m for m in members if m.username not in removed]
        events = [
            event_delivery(app, GroupEvent(Op.KICK, group_id, by, (m.username,)), recipients([m]))
            for m in gone
        ]
        events += [
            event_delivery(
                app,
                GroupEvent(Op.ABSENCE, group_id, m.username, member_count=len(staying)),
                recipients(staying),
                resource=resource if by in {s.username for s in staying} else "",
            )
            for m in gone
        ]
        await self.post(events)
        return removed

    # -- helpers -------------------------------------------------------------------------

    def _event(
        self,
        app: App,
        op: pb.MUCBody.Operation,
        group_id: str,
        actor: str,
        told: Sequence[Member],
        resource: str = "",
    ) -> Delivery | None:
        return event_delivery(
            app, GroupEvent(op, group_id, actor), recipients(told), resource=resource
        )

    async def _presence(
        self,
        app: App,
        group: Group,
        members: Sequence[Member],
        joined: Sequence[Member],
        resource: str,
        actor: str | None = None,
    ) -> None:
        """Tell the members (and the actor's other devices) who joined."""
        count = len({m.username for m in (*members, *joined)})
        events = []
        for m in joined:
            event = GroupEvent(Op.PRESENCE, group.id, m.username, member_count=count)
            skip = resource if actor in (None, m.username) else ""
            events.append(event_delivery(app, event, recipients(members), resource=skip))
        await self.post(events)

    async def post(self, events: Sequence[Delivery | None]) -> None:
        """Write and notify group events (``None``s: nobody to tell)."""
        deliveries = [e for e in events if e is not None]
        if deliveries and self._events is not None:
            await self._events.post(deliveries)

    async def _require_admin(
        self, app: App, group: Group, actor: str | None, members: Sequence[Member] | None = None
    ) -> Role:
        if members is None:
            members = await self._store.members(group.id)
        return self.require_admin_in(members, actor)

    def require_admin_in(self, members: Sequence[Member], actor: str | None) -> Role:
        """The actor's role, if it is the owner or an admin (None: the app, as owner)."""
        if actor is None:
            return Role.OWNER  # the app itself
        role = role_of(members, actor)
        if role is None:
            raise ChatError(ErrorCode.GROUP_NOT_JOINED, not_member(actor))
        if role is Role.MEMBER:
            raise ChatError(
                ErrorCode.GROUP_PERMISSION_DENIED, "only the owner or an admin can do this"
            )
        return role

    async def user_id(self, app: App, name: str) -> str | None:
        """The user id behind ``name``, or None when it has no account."""
        return (await self._users.user_ids(app.id, [name])).get(name)

    async def user_ids(self, app: App, names: Sequence[str]) -> dict[str, str]:
        """Their user ids; USER_NOT_FOUND naming the first without an account."""
        bad = [n for n in names if not isinstance(n, str) or not USERNAME_RE.match(n)]
        ids = await self._users.user_ids(app.id, [n for n in names if n not in bad])
        missing = [n for n in names if n not in ids]
        if missing:
            raise ChatError(ErrorCode.USER_NOT_FOUND, f"username {missing[0]} doesn't exist!")
        return ids


Op = pb.MUCBody


def _limit(value: str, what: str, limit: int) -> None:
    if len(value) > limit:
        raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, f"{what} is longer than {limit} characters")
