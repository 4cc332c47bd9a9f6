"""The per-node group cache: sends read from memory, every write forgets the group here
and tells the other nodes, an event from another node forgets it too, and it is bounded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from kibitz.server.domain.events import Event, GroupChanged
from kibitz.server.domain.group_cache import CachingGroupStore
from kibitz.server.domain.group_models import Group, ListKind, Member, Role

pytestmark = pytest.mark.anyio


def _group(group_id: str) -> Group:
    return Group("app", group_id, "g", "", "alice", False, False, False, False, 200, "", "", 1, 1)


class CountingStore:
    """A store that counts its reads (only what the cache calls)."""

    def __init__(self) -> None:
        self.reads = 0
        self.members_of: dict[str, list[Member]] = {}
        self.mutes: dict[str, dict[str, int]] = {}

    async def get(self, app_pk: str, group_id: str) -> Group | None:
        self.reads += 1
        return _group(group_id) if group_id in self.members_of else None

    async def members(self, group_id: str) -> list[Member]:
        self.reads += 1
        return list(self.members_of.get(group_id, []))

    async def list_entries(self, group_id: str, kind: ListKind) -> dict[str, int]:
        self.reads += 1
        return dict(self.mutes.get(group_id, {}))

    async def add_entries(self, group_id: str, kind: ListKind, entries: Any, by: str = "") -> None:
        self.mutes.setdefault(group_id, {}).update(entries)

    async def remove_members(self, group_id: str, usernames: Sequence[str]) -> None:
        self.members_of[group_id] = [
            m for m in self.members_of[group_id] if m.username not in usernames
        ]


class Bus:
    def __init__(self) -> None:
        self.sent: list[Event] = []

    async def publish(self, events: Sequence[Event]) -> None:
        self.sent.extend(events)


def _member(group_id: str, name: str) -> Member:
    return Member(group_id, name, f"id-{name}", Role.MEMBER, 1)


async def test_reads_come_from_memory_until_a_write() -> None:
    inner, bus = CountingStore(), Bus()
    inner.members_of["1"] = [_member("1", "alice"), _member("1", "bob")]
    cache = CachingGroupStore(inner, bus)  # type: ignore[arg-type]
    for _ in range(5):
        assert (await cache.get("app", "1")) is not None
        assert [m.username for m in await cache.members("1")] == ["alice", "bob"]
        assert await cache.list_entries("1", ListKind.MUTE) == {}
    assert inner.reads == 3
    assert await cache.get("other-app", "1") is None  # another app's group is not seen
    await cache.remove_members("1", ["bob"])
    assert bus.sent == [GroupChanged("1")]
    assert [m.username for m in await cache.members("1")] == ["alice"]
    await cache.add_entries("1", ListKind.MUTE, {"alice": 0})
    assert await cache.list_entries("1", ListKind.MUTE) == {"alice": 0}


async def test_another_nodes_change_forgets_and_the_cache_is_bounded() -> None:
    inner = CountingStore()
    for gid in ("1", "2", "3"):
        inner.members_of[gid] = [_member(gid, "alice")]
    cache = CachingGroupStore(inner, None, max_groups=2)  # type: ignore[arg-type]
    await cache.members("1")
    inner.members_of["1"].append(_member("1", "carol"))  # written by another node
    assert len(await cache.members("1")) == 1  # what this node knew
    cache.groups_changed([GroupChanged("1")])
    assert len(await cache.members("1")) == 2
    await cache.members("2")
    await cache.members("3")  # "1" is the least recently used: evicted
    before = inner.reads
    await cache.members("1")
    assert inner.reads == before + 1
    assert await cache.get("app", "404") is None
    assert await cache.get("app", "404") is None
    assert inner.reads == before + 3  # a missing group is not remembered
