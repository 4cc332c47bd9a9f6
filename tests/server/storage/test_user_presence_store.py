"""The user-attribute and presence store contracts, on a SQLite file and on PostgreSQL
(``database_url``): merges within the size limit or not at all, capacity per app, presence
rows and subscriptions with expiry and displacement, and a deleted user (or app) leaving
no row behind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kibitz.server.domain.models import App, User
from kibitz.server.domain.presence import PresenceState, Subscription
from kibitz.server.settings import Settings
from kibitz.server.storage.engine import create_engine
from kibitz.server.storage.migrate import migrate
from kibitz.server.storage.schema import presence, presence_subscriptions, user_attributes
from kibitz.server.storage.stores.apps import SqlAppStore
from kibitz.server.storage.stores.presence import SqlPresenceStore
from kibitz.server.storage.stores.user_attributes import SqlUserAttributeStore
from kibitz.server.storage.stores.users import SqlUserStore

pytestmark = pytest.mark.anyio


def _app(name: str) -> App:
    hexes = uuid.uuid4().hex
    return App(str(uuid.uuid4()), "acme", name, f"c-{name}", "s", hexes, hexes, "t", 4, 1)


@dataclass
class World:
    engine: AsyncEngine
    attrs: SqlUserAttributeStore
    presence: SqlPresenceStore
    users: SqlUserStore
    apps: SqlAppStore
    app: App
    other: App

    async def count(self, table: Table) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
async def world(settings_factory: Callable[..., Settings]) -> AsyncIterator[World]:
    engine = create_engine(settings_factory().resolved_database_url())
    try:
        await migrate(engine)
        apps, users = SqlAppStore(engine), SqlUserStore(engine)
        app, other = _app("chat"), _app("other")
        for a in (app, other):
            await apps.add(a)
        people = [
            User(str(uuid.uuid4()), app.id, n, None, True, None, 1, 1)
            for n in ("alice", "bob", "carol", "dave")
        ]
        people.append(User(str(uuid.uuid4()), other.id, "alice", None, True, None, 1, 1))
        await users.add_many(people)
        yield World(
            engine,
            SqlUserAttributeStore(engine),
            SqlPresenceStore(engine),
            users,
            apps,
            app,
            other,
        )
    finally:
        await engine.dispose()


async def test_attributes_merge_within_the_limit(world: World) -> None:
    s, app = world.attrs, world.app
    assert await s.merge(app.id, "alice", {"nickname": "Al", "ext": "ü"}, 64) == {
        "nickname": "Al",
        "ext": "ü",
    }
    merged = await s.merge(app.id, "alice", {"nickname": "Alice", "sign": ""}, 64)
    assert merged == {"nickname": "Alice", "ext": "ü", "sign": ""}
    # over the limit: nothing written
    assert await s.merge(app.id, "alice", {"mail": "x" * 60}, 64) is None
    await s.merge(app.id, "bob", {"gender": "1"}, 64)
    await s.merge(world.other.id, "alice", {"nickname": "other"}, 64)
    fetched = await s.fetch(app.id, ["alice", "bob", "carol", "nobody"])
    assert fetched == {"alice": merged, "bob": {"gender": "1"}}
    # capacity: keys and values in UTF-8 bytes, per app
    assert await s.capacity(app.id) == (8 + 5 + 3 + 2 + 4) + (6 + 1)
    assert await s.capacity(world.other.id) == 8 + 5
    assert await s.delete(app.id, "alice") is True
    assert await s.delete(app.id, "alice") is False
    assert await s.fetch(app.id, ["alice"]) == {}
    assert await s.fetch(world.other.id, ["alice"]) == {"alice": {"nickname": "other"}}
    with pytest.raises(Exception, match="doesn't exist"):
        await s.merge(app.id, "nobody", {"k": "v"}, 64)


async def test_presence_state(world: World) -> None:
    p, app = world.presence, world.app
    assert await p.app_key(app.id) == "acme#chat"
    assert await p.states(app.id, ["alice", "nobody"]) == {"alice": PresenceState()}
    assert await p.publish(app.id, "alice", "web_1", "1", "busy", {"web_1", "web_2"}, 10)
    assert await p.publish(app.id, "alice", "web_2", "2", "away", {"web_1", "web_2"}, 20)
    (state,) = (await p.states(app.id, ["alice"])).values()
    assert state == PresenceState("away", {"web_1": "1", "web_2": "2"}, 20)
    # a device that left: its status goes, the change time moves
    await p.touch(app.id, "alice", 30, {"web_1"})
    assert (await p.states(app.id, ["alice"]))["alice"] == PresenceState("away", {"web_2": "2"}, 30)
    await p.touch(app.id, "alice", 35, ())  # a login: only the time moves
    assert (await p.states(app.id, ["alice"]))["alice"] == PresenceState("away", {"web_2": "2"}, 35)
    await p.touch(app.id, "nobody", 35, ())  # an unknown user: nothing
    # a resource no longer live is dropped at the next publish
    assert await p.publish(app.id, "alice", "web_3", "1", "", {"web_3"}, 40)
    assert (await p.states(app.id, ["alice"]))["alice"].statuses == {"web_3": "1"}
    await p.touch(app.id, "bob", 50, ())  # a first row
    assert (await p.states(app.id, ["bob"]))["bob"] == PresenceState("", {}, 50)
    assert not await p.publish(app.id, "nobody", "r", "1", "", {"r"}, 60)


async def test_subscriptions(world: World) -> None:
    p, app = world.presence, world.app
    assert await p.subscribe(app.id, "alice", ["bob", "carol", "alice", "x"], 1_000, 0, 10) == [
        "bob",
        "carol",
    ]
    assert await p.subscribe(app.id, "dave", ["bob"], 500, 0, 10) == ["bob"]
    assert sorted(await p.subscribers(app.id, "bob", 0), key=lambda s: s.username) == [
        Subscription("alice", 1_000),
        Subscription("dave", 500),
    ]
    assert await p.subscribers(app.id, "bob", 600) == [Subscription("alice", 1_000)]
    total, page = await p.subscriptions(app.id, "alice", 0, 1, 1)
    assert (total, page) == (2, [Subscription("carol", 1_000)])
    assert await p.expiries(app.id, "alice", ["bob", "dave"], 0) == {"bob": 1_000}
    # a renewal replaces the expiry; past the limit the soonest-ending make room
    assert await p.subscribe(app.id, "alice", ["bob"], 2_000, 0, 2) == ["bob"]
    assert await p.subscribe(app.id, "alice", ["dave"], 3_000, 0, 2) == ["dave"]
    _, page = await p.subscriptions(app.id, "alice", 0, 0, 10)
    assert page == [Subscription("bob", 2_000), Subscription("dave", 3_000)]
    # none ends before the new one: refused, nothing written
    assert await p.subscribe(app.id, "alice", ["carol"], 1_500, 0, 2) is None
    assert (await p.subscriptions(app.id, "alice", 0, 0, 10))[0] == 2
    # expired ones are not counted, and go at the next subscribe
    assert await p.subscribe(app.id, "alice", ["carol"], 5_000, 2_500, 2) == ["carol"]
    _, page = await p.subscriptions(app.id, "alice", 2_500, 0, 10)
    assert page == [Subscription("carol", 5_000), Subscription("dave", 3_000)]
    await p.unsubscribe(app.id, "alice", ["carol", "nobody"])
    assert await p.expiries(app.id, "alice", ["carol", "dave"], 0) == {"dave": 3_000}


async def test_deleting_users_and_apps_leaves_nothing(world: World) -> None:
    app = world.app
    await world.attrs.merge(app.id, "alice", {"nickname": "Al"}, 2_048)
    await world.presence.publish(app.id, "alice", "r", "1", "", {"r"}, 1)
    await world.presence.subscribe(app.id, "alice", ["bob"], 10, 0, 10)
    await world.presence.subscribe(app.id, "carol", ["alice"], 10, 0, 10)
    await world.attrs.merge(world.other.id, "alice", {"nickname": "Al"}, 2_048)
    await world.users.delete(app.id, ["alice"])
    for table in (presence, presence_subscriptions):
        assert await world.count(table) == 0
    assert await world.count(user_attributes) == 1  # the other app's alice
    await world.apps.delete(world.other.id)
    assert await world.count(user_attributes) == 0
