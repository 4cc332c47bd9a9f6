"""Group member attributes: what a member says of itself in one group (a nickname there, a
role label) — set by the member (or the owner, an admin, the app), read by anyone in the
app, gone when the member leaves (agora-protocol-2.md §3.5, agora-rest.md §3.5).

Agora's limits: a key ≤ 16 bytes, a value ≤ 512 bytes, ≤ 4 KB per member in all; a read
names ≤ 10 members. A change is told to the other members and the setter's other devices
as GROUP_MEMBER_METADATA_UPDATE, whose ``eventInfo.ext`` (the SDK parses it unguarded) is
``{"username", "properties"}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import pb

from .group_events import GroupEvent, Recipient, event_delivery
from .group_models import GroupStore, Role
from .groups import GroupService
from .models import App

__all__ = ["MAX_READ", "GroupAttributes"]

MAX_KEY_BYTES: Final = 16
MAX_VALUE_BYTES: Final = 512
MAX_TOTAL_BYTES: Final = 4 * 1024
MAX_READ: Final = 10


class GroupAttributes:
    def __init__(self, groups: GroupService, store: GroupStore) -> None:
        self._groups = groups
        self._store = store

    async def set(
        self,
        app: App,
        group_id: str,
        actor: str | None,
        username: str,
        values: dict[str, str],
        resource: str = "",
    ) -> dict[str, str]:
        """Set (an empty value removes) ``username``'s attributes; its attributes after."""
        group = await self._groups.get(app, group_id)
        members = await self._store.members(group_id)
        roles = {m.username: m.role for m in members}
        if username not in roles:
            raise ChatError(
                ErrorCode.GROUP_NOT_JOINED, f"users [{username}] are not members of this group!"
            )
        if (
            actor is not None
            and actor != username
            and roles.get(actor)
            not in (
                Role.OWNER,
                Role.ADMIN,
            )
        ):
            raise ChatError(
                ErrorCode.GROUP_PERMISSION_DENIED, "only the member, an admin or the owner"
            )
        for key, value in values.items():
            if not key or len(key.encode()) > MAX_KEY_BYTES:
                raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, f"a key is 1 to {MAX_KEY_BYTES} B")
            if len(value.encode()) > MAX_VALUE_BYTES:
                raise ChatError(
                    ErrorCode.EXCEED_SERVICE_LIMIT, f"a value is at most {MAX_VALUE_BYTES} B"
                )
        current = (await self._store.attributes(group_id, [username])).get(username, {})
        after = {k: v for k, v in {**current, **values}.items() if v}
        if sum(len(k.encode()) + len(v.encode()) for k, v in after.items()) > MAX_TOTAL_BYTES:
            raise ChatError(
                ErrorCode.EXCEED_SERVICE_LIMIT,
                f"a member's attributes are at most {MAX_TOTAL_BYTES} B in all",
            )
        await self._store.set_attributes(group_id, username, values)
        ext = json.dumps(
            {"username": username, "properties": values},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        event = GroupEvent(
            pb.MUCBody.GROUP_MEMBER_METADATA_UPDATE, group_id, actor or group.owner, ext=ext
        )
        recipients = [Recipient(m.username, m.user_id) for m in members]
        await self._groups.post([event_delivery(app, event, recipients, resource=resource)])
        return after

    async def get(
        self, app: App, group_id: str, usernames: Sequence[str], keys: Sequence[str] = ()
    ) -> dict[str, dict[str, str]]:
        if len(usernames) > MAX_READ:
            raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, f"at most {MAX_READ} members at once")
        await self._groups.get(app, group_id)
        return await self._store.attributes(group_id, list(usernames), list(keys))
