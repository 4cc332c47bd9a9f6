"""Moderating a group: mutes with a duration, mute-all with its allow list, the block list,
the announcement, and the app disabling a group. What a muted or blocked user then cannot
do is enforced where it happens — a send by ``GroupConversations.refusal``, a join or an
add by ``GroupService`` — this module only changes the state and tells the members.

Agora's rules kept: the owner is never muted or blocked, an admin only by the owner (or
the app); ≤ 60 users per call; an announcement ≤ 512 characters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import pb

from .group_events import GroupEvent, Recipient, event_delivery, recipients
from .group_models import (
    MAX_ADMINS,
    MAX_BATCH,
    Group,
    GroupStore,
    ListKind,
    Member,
    Role,
    check_targets,
    not_member,
    role_of,
)
from .groups import GroupService
from .models import App
from .ports import Clock

__all__ = ["MAX_ANNOUNCEMENT", "GroupModeration"]

MAX_ANNOUNCEMENT = 512
Op = pb.MUCBody


class GroupModeration:
    def __init__(self, groups: GroupService, store: GroupStore, clock: Clock) -> None:
        self._groups = groups
        self._store = store
        self._clock = clock

    # -- roles ---------------------------------------------------------------------------

    async def transfer(
        self, app: App, group_id: str, actor: str | None, new_owner: str, resource: str = ""
    ) -> Group:
        group = await self._groups.get(app, group_id)
        if actor is not None and actor != group.owner:
            raise ChatError(
                ErrorCode.GROUP_PERMISSION_DENIED, "only the owner can transfer the group"
            )
        members = {m.username: m for m in await self._store.members(group_id)}
        if new_owner not in members:
            raise ChatError(ErrorCode.GROUP_NOT_JOINED, not_member(new_owner))
        updated = replace(group, owner=new_owner, modified_ms=self._clock.now_ms())
        await self._store.transfer(updated, group.owner)  # all three rows, or none
        event = GroupEvent(Op.ASSIGN_OWNER, group_id, actor or group.owner, (new_owner,))
        told = recipients(members.values())
        await self._groups.post([event_delivery(app, event, told, resource=resource)])
        return updated

    async def set_admin(
        self,
        app: App,
        group_id: str,
        actor: str | None,
        username: str,
        admin: bool,
        resource: str = "",
    ) -> None:
        """Make a member an admin (≤ 99 per group) or a plain member again: the app or
        the owner only."""
        group = await self._groups.get(app, group_id)
        if actor is not None and actor != group.owner:
            raise ChatError(ErrorCode.GROUP_PERMISSION_DENIED, "only the owner can change admins")
        members = await self._store.members(group_id)
        role = role_of(members, username)
        if role is None:
            raise ChatError(ErrorCode.GROUP_NOT_JOINED, not_member(username))
        if role is Role.OWNER:
            raise ChatError(ErrorCode.GROUP_PERMISSION_DENIED, "the owner's role cannot change")
        if admin == (role is Role.ADMIN):
            return  # nothing changes, nobody is told
        if admin and sum(m.role is Role.ADMIN for m in members) >= MAX_ADMINS:
            raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, f"at most {MAX_ADMINS} admins")
        await self._store.set_role(group_id, username, Role.ADMIN if admin else Role.MEMBER)
        op = Op.ADD_ADMIN if admin else Op.REMOVE_ADMIN
        event = GroupEvent(op, group_id, actor or group.owner, (username,))
        await self._groups.post(
            [event_delivery(app, event, recipients(members), resource=resource)]
        )

    # -- mutes ---------------------------------------------------------------------------

    async def mute(
        self,
        app: App,
        group_id: str,
        actor: str | None,
        usernames: Sequence[str],
        duration_ms: int,
        resource: str = "",
    ) -> dict[str, int]:
        """Mute members for ``duration_ms`` (-1: until unmuted); username → expiry ms
        (-1 for no expiry, as Agora answers)."""
        group, members = await self._targets(app, group_id, actor, usernames)
        expires = 0 if duration_ms < 0 else self._clock.now_ms() + duration_ms
        names = list(dict.fromkeys(usernames))
        await self._store.add_entries(group_id, ListKind.MUTE, dict.fromkeys(names, expires))
        by = actor or group.owner
        ext = json.dumps({"user_mute_time": dict.fromkeys(names, expires or -1)})
        event = GroupEvent(Op.ADD_MUTE, group_id, by, tuple(names), body_ext=ext)
        await self._tell(app, event, members, resource)
        return dict.fromkeys(names, expires or -1)

    async def unmute(
        self,
        app: App,
        group_id: str,
        actor: str | None,
        usernames: Sequence[str],
        resource: str = "",
    ) -> list[str]:
        group, members = await self._targets(app, group_id, actor, usernames)
        names = list(dict.fromkeys(usernames))
        await self._store.remove_entries(group_id, ListKind.MUTE, names)
        event = GroupEvent(Op.REMOVE_MUTE, group_id, actor or group.owner, tuple(names))
        await self._tell(app, event, members, resource)
        return names

    async def mutes(self, app: App, group_id: str) -> dict[str, int]:
        """The members muted now: username → expiry ms (-1: no expiry)."""
        await self._groups.get(app, group_id)
        now = self._clock.now_ms()
        entries = await self._store.list_entries(group_id, ListKind.MUTE)
        return {u: (ms or -1) for u, ms in entries.items() if ms == 0 or ms > now}

    async def mute_all(
        self, app: App, group_id: str, actor: str | None, on: bool, resource: str = ""
    ) -> None:
        group = await self._groups.get(app, group_id)
        members = await self._store.members(group_id)
        self._groups.require_admin_in(members, actor)
        await self._store.update(replace(group, mute_all=on, modified_ms=self._clock.now_ms()))
        op = Op.BAN_GROUP if on else Op.REMOVE_BAN_GROUP
        await self._tell(app, GroupEvent(op, group_id, actor or group.owner), members, resource)

    # -- allow list and block list -------------------------------------------------------

    async def allow(
        self,
        app: App,
        group_id: str,
        actor: str | None,
        usernames: Sequence[str],
        on: bool,
        resource: str = "",
    ) -> list[str]:
        """Add to (or remove from) the allow list: members who may post when all are muted."""
        group, members = await self._targets(app, group_id, actor, usernames, owner_ok=True)
        names = list(dict.fromkeys(usernames))
        if on:
            await self._store.add_entries(group_id, ListKind.ALLOW, dict.fromkeys(names, 0))
        else:
            await self._store.remove_entries(group_id, ListKind.ALLOW, names)
        op = Op.ADD_USER_WHITE_LIST if on else Op.REMOVE_USER_WHITE_LIST
        by = actor or group.owner
        affected = [m for m in members if m.username in names]
        for m in affected:
            event = GroupEvent(op, group_id, by, (m.username,))
            await self._tell(app, event, [m], resource)
        return names

    async def block(
        self,
        app: App,
        group_id: str,
        actor: str | None,
        usernames: Sequence[str],
        resource: str = "",
    ) -> list[str]:
        """Block users (members are removed, and told with KICK): they cannot join or be
        added again until unblocked."""
        await self._groups.get(app, group_id)
        members = await self._store.members(group_id)
        actor_role = self._groups.require_admin_in(members, actor)
        names = _batch(usernames)
        check_targets(members, actor_role, names, "blocked", outsiders_ok=True)
        await self._store.add_entries(group_id, ListKind.BLOCK, dict.fromkeys(names, 0))
        present = {m.username for m in members}
        inside = [n for n in names if n in present]
        if inside:
            await self._groups.remove_members(app, group_id, actor, inside, resource)
        return names

    async def unblock(
        self,
        app: App,
        group_id: str,
        actor: str | None,
        usernames: Sequence[str],
    ) -> list[str]:
        group = await self._groups.get(app, group_id)
        self._groups.require_admin_in(await self._store.members(group_id), actor)
        names = _batch(usernames)
        await self._store.remove_entries(group_id, ListKind.BLOCK, names)
        ids = await self._groups.user_ids(app, names)
        by = actor or group.owner
        for name in names:
            event = GroupEvent(Op.ALLOW, group_id, by, (name,))
            await self._groups.post([event_delivery(app, event, [Recipient(name, ids[name])])])
        return names

    async def listed(self, app: App, group_id: str, kind: ListKind) -> list[str]:
        await self._groups.get(app, group_id)
        return sorted(await self._store.list_entries(group_id, kind))

    # -- message shielding --------------------------------------------------------------

    async def shield(self, app: App, group_id: str, username: str, on: bool) -> None:
        """A member stops (or resumes) being told of the group's messages; what was said
        while shielded is not waiting for it when it resumes."""
        await self._groups.get(app, group_id)
        member = role_of(await self._store.members(group_id), username)
        if member is None:
            raise ChatError(ErrorCode.GROUP_NOT_JOINED, not_member(username))
        if on:
            await self._store.add_entries(group_id, ListKind.SHIELD, {username: 0})
            return
        await self._store.remove_entries(group_id, ListKind.SHIELD, [username])
        ids = await self._groups.user_ids(app, [username])
        await self._groups.start_at_head(ids[username], group_id)

    # -- announcement and the app's switch -----------------------------------------------

    async def announce(
        self, app: App, group_id: str, actor: str | None, text: str, resource: str = ""
    ) -> None:
        if len(text) > MAX_ANNOUNCEMENT:
            raise ChatError(
                ErrorCode.EXCEED_SERVICE_LIMIT, f"an announcement is at most {MAX_ANNOUNCEMENT}"
            )
        group = await self._groups.get(app, group_id)
        members = await self._store.members(group_id)
        self._groups.require_admin_in(members, actor)
        await self._store.update(replace(group, announcement=text))
        op = Op.UPDATE_ANNOUNCEMENT if text else Op.DELETE_ANNOUNCEMENT
        event = GroupEvent(op, group_id, actor or group.owner, reason=text)
        await self._tell(app, event, members, resource)

    async def set_disabled(self, app: App, group_id: str, disabled: bool) -> Group:
        """The app bans (or unbans) a group: nobody can post in it meanwhile."""
        group = await self._groups.get(app, group_id)
        updated = replace(group, disabled=disabled, modified_ms=self._clock.now_ms())
        await self._store.update(updated)
        return updated

    # -- helpers -------------------------------------------------------------------------

    async def _targets(
        self,
        app: App,
        group_id: str,
        actor: str | None,
        usernames: Sequence[str],
        owner_ok: bool = False,
    ) -> tuple[Group, list[Member]]:
        """The group and its members, once the actor may act on every one of ``usernames``
        (members all; never the owner unless ``owner_ok``; an admin only by the owner)."""
        group = await self._groups.get(app, group_id)
        members = await self._store.members(group_id)
        actor_role = self._groups.require_admin_in(members, actor)
        check_targets(members, actor_role, _batch(usernames), "changed", owner_ok=owner_ok)
        return group, members

    async def _tell(
        self,
        app: App,
        event: GroupEvent,
        members: Sequence[Member],
        resource: str,
    ) -> None:
        recipients = [Recipient(m.username, m.user_id) for m in members]
        delivery = event_delivery(app, event, recipients, resource=resource)
        await self._groups.post([delivery])


def _batch(usernames: Sequence[str]) -> list[str]:
    names = list(dict.fromkeys(usernames))
    if not names:
        raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "no usernames given")
    if len(names) > MAX_BATCH:
        raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, f"at most {MAX_BATCH} users at once")
    return names
