"""What a group send asks of the group store — the group, its members, its mute and allow
lists — kept in memory per node, so a send to a busy group reads no table.

``CachingGroupStore`` wraps any ``GroupStore``: the three reads above are served from a
bounded LRU of groups; every write through it forgets the group here at once and tells the
other nodes (``GroupChanged`` on the bus), whose caches forget it when the event arrives.
Until then another node may act on what it knew a moment ago — a membership change is
seen everywhere within the bus's delay, as a message is.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from .events import EventBus, GroupChanged
from .group_models import Group, GroupStore, ListKind, Member, Role

__all__ = ["MAX_CACHED_GROUPS", "CachingGroupStore"]

MAX_CACHED_GROUPS: Final = 10_000


@dataclass
class _Entry:
    group: Group | None = None
    members: list[Member] | None = None
    ids: dict[str, str] | None = None  # user id → username
    lists: dict[ListKind, dict[str, int]] = field(default_factory=dict)


class CachingGroupStore:
    def __init__(
        self,
        inner: GroupStore,
        bus: EventBus | None = None,
        max_groups: int = MAX_CACHED_GROUPS,
    ) -> None:
        self._inner = inner
        self._bus = bus
        self._max = max_groups
        self._cache: OrderedDict[str, _Entry] = OrderedDict()

    # -- the bus ------------------------------------------------------------------------

    def groups_changed(self, events: Sequence[GroupChanged]) -> None:
        """Another node (or this one) changed these groups."""
        for e in events:
            self._cache.pop(e.group_id, None)

    async def _changed(self, group_id: str) -> None:
        self._cache.pop(group_id, None)
        if self._bus is not None:
            await self._bus.publish([GroupChanged(group_id)])

    def _entry(self, group_id: str) -> _Entry:
        entry = self._cache.get(group_id)
        if entry is None:
            entry = self._cache[group_id] = _Entry()
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(group_id)
        return entry

    # -- cached reads ---------------------------------------------------------------------

    async def get(self, app_pk: str, group_id: str) -> Group | None:
        entry = self._entry(group_id)
        if entry.group is None:
            entry.group = await self._inner.get(app_pk, group_id)
            if entry.group is None:
                self._cache.pop(group_id, None)  # do not remember what does not exist
                return None
        return entry.group if entry.group.app_pk == app_pk else None

    async def group_of(self, group_id: str) -> Group | None:
        entry = self._entry(group_id)
        if entry.group is None:
            entry.group = await self._inner.group_of(group_id)
            if entry.group is None:
                self._cache.pop(group_id, None)
        return entry.group

    async def member_ids(self, group_id: str) -> dict[str, str]:
        entry = self._entry(group_id)
        if entry.ids is None:
            entry.ids = {m.user_id: m.username for m in await self.members(group_id)}
        return entry.ids

    async def members(self, group_id: str) -> list[Member]:
        entry = self._entry(group_id)
        if entry.members is None:
            entry.members = await self._inner.members(group_id)
        return list(entry.members)

    async def list_entries(self, group_id: str, kind: ListKind) -> dict[str, int]:
        entry = self._entry(group_id)
        if kind not in entry.lists:
            entry.lists[kind] = await self._inner.list_entries(group_id, kind)
        return dict(entry.lists[kind])

    # -- writes: through, then forget -------------------------------------------------------

    async def create(self, group: Group, members: Sequence[Member]) -> None:
        await self._inner.create(group, members)
        await self._changed(group.id)

    async def update(self, group: Group) -> None:
        await self._inner.update(group)
        await self._changed(group.id)

    async def delete(self, app_pk: str, group_id: str) -> None:
        await self._inner.delete(app_pk, group_id)
        await self._changed(group_id)

    async def add_members(self, members: Sequence[Member]) -> None:
        await self._inner.add_members(members)
        for group_id in {m.group_id for m in members}:
            await self._changed(group_id)

    async def remove_members(self, group_id: str, usernames: Sequence[str]) -> None:
        await self._inner.remove_members(group_id, usernames)
        await self._changed(group_id)

    async def transfer(self, group: Group, old_owner: str) -> None:
        await self._inner.transfer(group, old_owner)
        await self._changed(group.id)

    async def set_role(self, group_id: str, username: str, role: Role) -> None:
        await self._inner.set_role(group_id, username, role)
        await self._changed(group_id)

    async def add_entries(
        self, group_id: str, kind: ListKind, entries: dict[str, int], by: str = ""
    ) -> None:
        await self._inner.add_entries(group_id, kind, entries, by)
        await self._changed(group_id)

    async def remove_entries(self, group_id: str, kind: ListKind, usernames: Sequence[str]) -> None:
        await self._inner.remove_entries(group_id, kind, usernames)
        await self._changed(group_id)

    # -- not cached ---------------------------------------------------------------------

    async def entry_by(self, group_id: str, kind: ListKind, username: str) -> str | None:
        return await self._inner.entry_by(group_id, kind, username)

    async def joined(self, user_id: str) -> list[Group]:
        return await self._inner.joined(user_id)

    async def memberships(self, user_id: str) -> list[tuple[Group, int]]:
        return await self._inner.memberships(user_id)

    async def page(self, app_pk: str, limit: int, after: str | None) -> list[Group]:
        return await self._inner.page(app_pk, limit, after)

    async def set_attributes(self, group_id: str, username: str, values: dict[str, str]) -> None:
        await self._inner.set_attributes(group_id, username, values)

    async def attributes(
        self, group_id: str, usernames: Sequence[str], keys: Sequence[str] = ()
    ) -> dict[str, dict[str, str]]:
        return await self._inner.attributes(group_id, usernames, keys)
