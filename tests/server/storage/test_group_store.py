"""The group store contract, on a SQLite file and on PostgreSQL (``database_url``): groups
and members kept as given, members owner first, idempotent adds, numeric paging, and a
destroyed group's queue rows and cursors gone with it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

import pytest
from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kibitz.server.domain.conversations import conversation_queue
from kibitz.server.domain.groups import Group, GroupStore, Member, Role, group_key
from kibitz.server.domain.models import App, User
from kibitz.server.settings import Settings
from kibitz.server.storage.engine import create_engine
from kibitz.server.storage.migrate import migrate
from kibitz.server.storage.schema import cursors, devices, group_members, inbox, queues
from kibitz.server.storage.stores.apps import SqlAppStore
from kibitz.server.storage.stores.groups import SqlGroupStore
from kibitz.server.storage.stores.users import SqlUserStore

pytestmark = pytest.mark.anyio

SNOWFLAKE = 7_300_000_000_000_000_000  # a group id of today's length (19 digits)


def _app(name: str) -> App:
    hexes = uuid.uuid4().hex
    return App(str(uuid.uuid4()), "acme", name, f"c-{name}", "s", hexes, hexes, "t", 4, 1)


def _user(app: App, username: str) -> User:
    return User(str(uuid.uuid4()), app.id, username, None, True, None, 1, 1)


def _group(app: App, n: int, *, owner: str = "alice", created_ms: int | None = None) -> Group:
    ms = 1_000 + n if created_ms is None else created_ms
    return Group(
        app_pk=app.id,
        id=str(SNOWFLAKE + n),
        name=f"group {n}",
        description="a group",
        owner=owner,
        public=True,
        approval=False,
        allow_invites=False,
        invite_need_confirm=True,
        max_users=200,
        custom="{}",
        avatar="",
        created_ms=ms,
        modified_ms=ms,
    )


@dataclass
class World:
    engine: AsyncEngine
    store: GroupStore
    users: SqlUserStore
    app: App
    other: App  # a second app
    u: dict[str, User]  # alice, bob, carol, dave in ``app``; erin in ``other``

    def member(self, group: Group, name: str, role: Role = Role.MEMBER, ms: int = 5) -> Member:
        return Member(group.id, name, self.u[name].id, role, ms)

    async def count(self, table: Table, **where: str) -> int:
        query = select(func.count()).select_from(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        async with self.engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def make(self, group: Group, *names: str) -> Group:
        """The group with its owner (joined at its creation) and these members."""
        owner = self.member(group, group.owner, Role.OWNER, group.created_ms)
        await self.store.create(group, [owner, *(self.member(group, n) for n in names)])
        return group


@pytest.fixture
async def world(settings_factory: Callable[..., Settings]) -> AsyncIterator[World]:
    engine = create_engine(settings_factory().resolved_database_url())
    try:
        await migrate(engine)
        apps, users = SqlAppStore(engine), SqlUserStore(engine)
        app, other = _app("chat"), _app("other")
        for a in (app, other):
            await apps.add(a)
        u = {n: _user(app, n) for n in ("alice", "bob", "carol", "dave")}
        u["erin"] = _user(other, "erin")
        await users.add_many(list(u.values()))
        yield World(engine, SqlGroupStore(engine), users, app, other, u)
    finally:
        await engine.dispose()


def _names(members: list[Member]) -> list[str]:
    return [m.username for m in members]


async def test_create_get_update(world: World) -> None:
    s = world.store
    g = await world.make(_group(world.app, 1), "bob")
    assert await s.get(world.app.id, g.id) == g
    assert await s.get(world.other.id, g.id) is None  # another app's id names nothing
    assert await s.get(world.app.id, str(SNOWFLAKE + 99)) is None
    changed = replace(
        g,
        name="renamed",
        description="ü" * 512,
        custom="x" * 8192,
        avatar="https://example.com/a.png",
        public=False,
        approval=True,
        max_users=5_000,
        modified_ms=2_000,
        disabled=True,
        mute_all=True,
    )
    await s.update(changed)
    assert await s.get(world.app.id, g.id) == changed
    await s.update(replace(changed, app_pk=world.other.id, name="not mine"))  # wrong app
    assert await s.get(world.app.id, g.id) == changed
    with pytest.raises(ValueError):
        await world.make(g)  # the id is taken


async def test_delete_takes_members_queue_rows_and_cursors(world: World) -> None:
    s, alice, bob = world.store, world.u["alice"], world.u["bob"]
    g = await world.make(_group(world.app, 1), "bob")
    kept = await world.make(_group(world.app, 2), "bob")
    queue, other_queue = conversation_queue(g.id), conversation_queue(kept.id)
    async with world.engine.begin() as conn:
        await conn.execute(
            insert(inbox),
            [
                {"owner": group_key(g.id), "queue": queue, "msg_id": 1},
                {"owner": group_key(g.id), "queue": queue, "msg_id": 2},
                {"owner": group_key(kept.id), "queue": other_queue, "msg_id": 3},
                {"owner": bob.id, "queue": "alice", "msg_id": 4},
            ],
        )
        await conn.execute(
            insert(queues),
            [
                {"owner": group_key(g.id), "queue": queue, "last_id": 2},
                {"owner": group_key(kept.id), "queue": other_queue, "last_id": 3},
            ],
        )
        await conn.execute(
            insert(devices),
            [
                {"owner": u.id, "resource": "r1", "created_ms": 1, "last_seen_ms": 1}
                for u in (alice, bob, world.u["carol"])
            ],
        )
        await conn.execute(
            insert(cursors),
            [
                {"owner": alice.id, "resource": "r1", "queue": queue, "acked": 2},
                {"owner": bob.id, "resource": "r1", "queue": queue, "acked": 1},
                {"owner": bob.id, "resource": "r1", "queue": other_queue, "acked": 3},
                {"owner": bob.id, "resource": "r1", "queue": "alice", "acked": 4},
                # a former member's cursor goes too
                {"owner": world.u["carol"].id, "resource": "r1", "queue": queue, "acked": 1},
            ],
        )
    await s.delete(world.other.id, g.id)  # another app's delete touches nothing
    assert await s.get(world.app.id, g.id) == g
    assert await world.count(inbox, owner=group_key(g.id)) == 2
    await s.delete(world.app.id, g.id)
    assert await s.get(world.app.id, g.id) is None
    assert await s.members(g.id) == []
    assert await world.count(group_members, group_id=g.id) == 0
    assert await world.count(inbox, owner=group_key(g.id)) == 0
    assert await world.count(queues, owner=group_key(g.id)) == 0
    assert await world.count(cursors, queue=queue) == 0
    # the other group and bob's own rows stay
    assert _names(await s.members(kept.id)) == ["alice", "bob"]
    assert await world.count(inbox) == 2
    assert await world.count(queues) == 1
    assert await world.count(cursors) == 2
    await s.delete(world.app.id, g.id)  # gone already: nothing to do


async def test_members_owner_first_then_join_time_then_name(world: World) -> None:
    s = world.store
    g = _group(world.app, 1, owner="dave", created_ms=50)
    await s.create(
        g,
        [
            world.member(g, "carol", ms=10),
            world.member(g, "bob", Role.ADMIN, ms=20),
            world.member(g, "alice", ms=10),
            world.member(g, "dave", Role.OWNER, ms=50),  # joined last, listed first
        ],
    )
    got = await s.members(g.id)
    assert _names(got) == ["dave", "alice", "carol", "bob"]
    assert got[0] == Member(g.id, "dave", world.u["dave"].id, Role.OWNER, 50)
    assert [m.role for m in got] == [Role.OWNER, Role.MEMBER, Role.MEMBER, Role.ADMIN]
    assert await s.members(str(SNOWFLAKE + 99)) == []


async def test_add_members_is_idempotent(world: World) -> None:
    s = world.store
    g = await world.make(_group(world.app, 1), "bob")
    await s.set_role(g.id, "bob", Role.ADMIN)
    again = [
        world.member(g, "bob", ms=900),  # already in: role and join time stay
        world.member(g, "alice", ms=900),  # the owner too
        world.member(g, "carol", ms=30),
    ]
    await s.add_members(again)
    await s.add_members(again)
    await s.add_members([])
    got = {m.username: m for m in await s.members(g.id)}
    assert _names(list(got.values())) == ["alice", "bob", "carol"]
    assert (got["bob"].role, got["bob"].joined_ms) == (Role.ADMIN, 5)
    assert (got["alice"].role, got["carol"].joined_ms) == (Role.OWNER, 30)


async def test_remove_members_and_set_role(world: World) -> None:
    s = world.store
    g = await world.make(_group(world.app, 1), "bob", "carol", "dave")
    other = await world.make(_group(world.app, 2), "bob")
    await s.remove_members(g.id, ["bob", "dave", "nobody"])
    await s.remove_members(g.id, [])
    assert _names(await s.members(g.id)) == ["alice", "carol"]
    assert _names(await s.members(other.id)) == ["alice", "bob"]  # only that group's
    await s.set_role(g.id, "carol", Role.ADMIN)
    await s.set_role(g.id, "nobody", Role.ADMIN)  # not a member: nothing happens
    assert [(m.username, m.role) for m in await s.members(g.id)] == [
        ("alice", Role.OWNER),
        ("carol", Role.ADMIN),
    ]
    # a transfer: the group's owner and both roles at once; the new owner is listed first
    await s.transfer(replace(g, owner="carol", modified_ms=99), "alice")
    assert [(m.username, m.role) for m in await s.members(g.id)] == [
        ("carol", Role.OWNER),
        ("alice", Role.MEMBER),
    ]
    stored = await s.get(world.app.id, g.id)
    assert stored is not None and (stored.owner, stored.modified_ms) == ("carol", 99)
    assert [m.role for m in await s.members(other.id)] == [Role.OWNER, Role.MEMBER]


async def test_joined_oldest_first_across_apps(world: World) -> None:
    s, bob = world.store, world.u["bob"]
    newer = await world.make(_group(world.app, 1, created_ms=300), "bob")
    older = await world.make(_group(world.app, 2, created_ms=100), "bob")
    tie_b = await world.make(_group(world.app, 10, created_ms=200), "bob")
    tie_a = await world.make(_group(world.app, 9, created_ms=200), "bob")  # lower id first
    await world.make(_group(world.app, 3, created_ms=50), "carol")  # bob is not in it
    theirs = _group(world.other, 4, owner="erin")
    await world.make(theirs)
    assert await s.joined(bob.id) == [older, tie_a, tie_b, newer]
    assert await s.joined(world.u["erin"].id) == [theirs]
    assert await s.joined(world.u["dave"].id) == []
    await s.remove_members(newer.id, ["bob"])
    assert await s.joined(bob.id) == [older, tie_a, tie_b]


async def test_memberships_carry_when_each_began(world: World) -> None:
    s, bob = world.store, world.u["bob"]
    first = await world.make(_group(world.app, 1, created_ms=100), "bob")
    second = _group(world.app, 2, created_ms=200)
    await world.make(second)
    await s.add_members([world.member(second, "bob", Role.MEMBER, 777)])
    got = await s.memberships(bob.id)
    assert [g for g, _ in got] == await s.joined(bob.id) == [first, second]
    assert got[1][1] == 777


async def test_page_in_numeric_id_order(world: World) -> None:
    s, app = world.store, world.app
    made = []
    for raw_id in ("10", "9", "100", str(SNOWFLAKE), "11"):
        made.append(await world.make(replace(_group(app, 0), id=raw_id)))
    await world.make(_group(world.other, 5, owner="erin"))  # another app's
    by_id = sorted(made, key=lambda g: int(g.id))
    assert [g.id for g in by_id] == ["9", "10", "11", "100", str(SNOWFLAKE)]
    assert await s.page(app.id, 100, None) == by_id
    assert await s.page(app.id, 2, None) == by_id[:2]
    assert await s.page(app.id, 2, "10") == by_id[2:4]
    assert await s.page(app.id, 2, "100") == by_id[4:]
    assert await s.page(app.id, 2, "99") == by_id[3:]  # a cursor need not be an id
    assert await s.page(app.id, 2, str(SNOWFLAKE)) == []
    assert await s.page(app.id, 2, "9" * 30) == []  # past every storable id
    assert await s.page(app.id, 2, "0") == by_id[:2]
    assert await s.page(world.other.id, 10, None) == [_group(world.other, 5, owner="erin")]
    with pytest.raises(ValueError):
        await s.page(app.id, 2, "abc")


async def test_a_deleted_user_leaves_every_group(world: World) -> None:
    s, bob = world.store, world.u["bob"]
    g = await world.make(_group(world.app, 1), "bob", "carol")
    h = await world.make(_group(world.app, 2), "bob")
    assert [u.username for u in await world.users.delete(world.app.id, ["bob"])] == ["bob"]
    assert _names(await s.members(g.id)) == ["alice", "carol"]
    assert _names(await s.members(h.id)) == ["alice"]
    assert await s.joined(bob.id) == []
    assert await world.count(group_members, user_id=bob.id) == 0


async def test_a_deleted_app_takes_its_groups(world: World) -> None:
    theirs = await world.make(_group(world.other, 1, owner="erin"))
    mine = await world.make(_group(world.app, 2), "bob")
    async with world.engine.begin() as conn:  # a message in each group's queue
        await conn.execute(
            insert(inbox),
            [
                {"owner": group_key(g.id), "queue": conversation_queue(g.id), "msg_id": i}
                for i, g in enumerate((theirs, mine), 1)
            ],
        )
    await SqlAppStore(world.engine).delete(world.other.id)
    assert await world.store.get(world.other.id, theirs.id) is None
    assert await world.count(group_members, group_id=theirs.id) == 0
    assert await world.count(inbox, owner=group_key(theirs.id)) == 0  # no orphan rows
    assert await world.count(inbox, owner=group_key(mine.id)) == 1
    assert await world.store.get(world.app.id, mine.id) == mine


async def test_member_attributes_set_read_and_go_with_the_member(world: World) -> None:
    s = world.store
    g = await world.make(_group(world.app, 1), "bob", "carol")
    await s.set_attributes(g.id, "bob", {"nick": "B", "color": "blue"})
    await s.set_attributes(g.id, "carol", {"nick": "C"})
    assert await s.attributes(g.id, ["bob", "carol", "dave"]) == {
        "bob": {"color": "blue", "nick": "B"},
        "carol": {"nick": "C"},
    }
    assert await s.attributes(g.id, ["bob"], ["nick"]) == {"bob": {"nick": "B"}}
    await s.set_attributes(g.id, "bob", {"color": "", "nick": "Bee"})  # "" removes
    assert await s.attributes(g.id, ["bob"]) == {"bob": {"nick": "Bee"}}
    await s.remove_members(g.id, ["bob"])
    assert await s.attributes(g.id, ["bob", "carol"]) == {"carol": {"nick": "C"}}
    await s.delete(world.app.id, g.id)
    assert await s.attributes(g.id, ["carol"]) == {}


async def test_a_group_by_id_alone_and_its_member_ids(world: World) -> None:
    s = world.store
    g = await world.make(_group(world.app, 1), "bob")
    assert await s.group_of(g.id) == g
    assert await s.group_of("999") is None
    assert await s.member_ids(g.id) == {
        world.u["alice"].id: "alice",
        world.u["bob"].id: "bob",
    }
