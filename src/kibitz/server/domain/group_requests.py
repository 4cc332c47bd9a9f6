"""Joining by asking: applications to an approval group and invitations that need the
invitee's consent — each a pending entry until someone answers it, each step told as the
Web SDK expects (agora-protocol-2.md §3.3, §3.6):

    apply        APPLY (4) to the owner and admins, with the applicant's message
    apply_verify APPLY_ACCEPT (5) / APPLY_DECLINE (6) to the applicant
    invite       INVITE (7) to each invitee (DIRECT_JOINED when no consent is needed)
    invite_verify INVITE_ACCEPT (8) / INVITE_DECLINE (9) to the inviter

Accepted people join through ``GroupService.admit`` (the members hear PRESENCE).
"""

from __future__ import annotations

from collections.abc import Sequence

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import pb

from .group_events import GroupEvent, Recipient, event_delivery
from .group_models import GroupStore, ListKind, Member, Role, blacklisted, check_inviter
from .groups import GroupService
from .models import App
from .ports import Clock

__all__ = ["GroupRequests"]

Op = pb.MUCBody


class GroupRequests:
    def __init__(self, groups: GroupService, store: GroupStore, clock: Clock) -> None:
        self._groups = groups
        self._store = store
        self._clock = clock

    # -- applications --------------------------------------------------------------------

    async def apply(
        self, app: App, group_id: str, username: str, message: str = "", resource: str = ""
    ) -> bool:
        """Join an open public group (True), or ask to join an approval group (False: the
        owner and admins are asked). A private group is joined by invitation only."""
        group = await self._groups.get(app, group_id)
        if not group.public or not group.approval:
            await self._groups.join(app, group_id, username, resource)
            return True
        members = await self._store.members(group_id)
        if any(m.username == username for m in members):
            await self._groups.join(app, group_id, username, resource)  # says 601
        if username in await self._store.list_entries(group_id, ListKind.BLOCK):
            raise blacklisted(username, group_id)
        await self._groups.user_ids(app, [username])
        await self._store.add_entries(
            group_id, ListKind.APPLY, {username: self._clock.now_ms()}, username
        )
        deciders = [m for m in members if m.role in (Role.OWNER, Role.ADMIN)]
        event = GroupEvent(Op.APPLY, group_id, username, reason=message, muc_name=group.name)
        await self._groups.post([event_delivery(app, event, _recipients(deciders))])
        return False

    async def verify_apply(
        self,
        app: App,
        group_id: str,
        actor: str | None,
        applicant: str,
        accept: bool,
        reason: str = "",
        resource: str = "",
    ) -> None:
        group = await self._groups.get(app, group_id)
        members = await self._store.members(group_id)
        self._groups.require_admin_in(members, actor)
        if await self._store.entry_by(group_id, ListKind.APPLY, applicant) is None:
            raise ChatError(
                ErrorCode.GROUP_PERMISSION_DENIED, f"{applicant} has not applied to {group_id}"
            )
        await self._store.remove_entries(group_id, ListKind.APPLY, [applicant])
        if accept:
            await self._groups.admit(app, group_id, [applicant], resource)
        ids = await self._groups.user_ids(app, [applicant])
        op = Op.APPLY_ACCEPT if accept else Op.APPLY_DECLINE
        by = actor or group.owner
        event = GroupEvent(op, group_id, by, (applicant,), reason=reason, muc_name=group.name)
        await self._groups.post(
            [event_delivery(app, event, [Recipient(applicant, ids[applicant])])]
        )

    # -- invitations ---------------------------------------------------------------------

    async def invite(
        self,
        app: App,
        group_id: str,
        actor: str | None,
        usernames: Sequence[str],
        resource: str = "",
    ) -> list[str]:
        """Invite users: added at once (the app, or a group that needs no consent), else
        each asked (INVITE) and added when it accepts. The names invited or added."""
        group = await self._groups.get(app, group_id)
        if actor is None or not group.invite_need_confirm:
            added = await self._groups.add_members(app, group_id, actor, usernames, resource)
            return [m.username for m in added]
        members = await self._store.members(group_id)
        check_inviter(group, members, actor)
        present = {m.username for m in members}
        names = [n for n in dict.fromkeys(usernames) if n not in present]
        ids = await self._groups.user_ids(app, names)
        now = self._clock.now_ms()
        await self._store.add_entries(group_id, ListKind.INVITE, dict.fromkeys(names, now), actor)
        events = [
            event_delivery(
                app,
                GroupEvent(Op.INVITE, group_id, actor, (n,), muc_name=group.name),
                [Recipient(n, ids[n])],
            )
            for n in names
        ]
        await self._groups.post(events)
        return names

    async def verify_invite(
        self, app: App, group_id: str, invitee: str, accept: bool, resource: str = ""
    ) -> None:
        """The invitee's answer; the inviter hears it."""
        group = await self._groups.get(app, group_id)
        inviter = await self._store.entry_by(group_id, ListKind.INVITE, invitee)
        if inviter is None:
            raise ChatError(
                ErrorCode.GROUP_PERMISSION_DENIED, f"{invitee} has no invitation to {group_id}"
            )
        await self._store.remove_entries(group_id, ListKind.INVITE, [invitee])
        if accept:
            await self._groups.admit(app, group_id, [invitee], resource)
        op = Op.INVITE_ACCEPT if accept else Op.INVITE_DECLINE
        ids = await self._groups.user_ids(app, [inviter])
        event = GroupEvent(op, group_id, invitee, (inviter,), muc_name=group.name)
        await self._groups.post([event_delivery(app, event, [Recipient(inviter, ids[inviter])])])


def _recipients(members: Sequence[Member]) -> list[Recipient]:
    return [Recipient(m.username, m.user_id) for m in members]
