"""The contact store contract, on a SQLite file and on PostgreSQL (``database_url``):
contacts on both sides with each side's remark, paging by username, pending requests, block
lists newest first, and a deleted user's (or app's) rows gone from both sides."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kibitz.server.domain.contact_models import Contact
from kibitz.server.domain.models import App, User
from kibitz.server.settings import Settings
from kibitz.server.storage.engine import create_engine
from kibitz.server.storage.migrate import migrate
from kibitz.server.storage.schema import contact_requests, contacts, user_blocks
from kibitz.server.storage.stores.apps import SqlAppStore
from kibitz.server.storage.stores.contacts import SqlContactStore
from kibitz.server.storage.stores.users import SqlUserStore

pytestmark = pytest.mark.anyio


def _app(name: str) -> App:
    hexes = uuid.uuid4().hex
    return App(str(uuid.uuid4()), "acme", name, f"c-{name}", "s", hexes, hexes, "t", 4, 1)


@dataclass
class World:
    engine: AsyncEngine
    store: SqlContactStore
    apps: SqlAppStore
    users: SqlUserStore
    app: App
    other: App
    id: dict[str, str]  # alice, bob, carol, dave in ``app``; erin in ``other``

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
        made = [
            User(str(uuid.uuid4()), app.id, n, None, True, None, 1, 1)
            for n in ("alice", "bob", "carol", "dave")
        ]
        made.append(User(str(uuid.uuid4()), other.id, "erin", None, True, None, 1, 1))
        await users.add_many(made)
        ids = {u.username: u.id for u in made}
        yield World(engine, SqlContactStore(engine), apps, users, app, other, ids)
    finally:
        await engine.dispose()


async def test_contacts_both_sides_with_own_remarks(world: World) -> None:
    s, i = world.store, world.id
    assert await s.add_contact(i["alice"], i["bob"], 10)
    assert not await s.add_contact(i["bob"], i["alice"], 11)  # already contacts
    assert await s.add_contact(i["alice"], i["carol"], 12)
    assert await s.contacts(i["alice"]) == [Contact("bob"), Contact("carol")]
    assert await s.contacts(i["bob"]) == [Contact("alice")]
    assert await s.contact_ids(i["alice"]) == {i["bob"], i["carol"]}
    assert await s.count_contacts(i["alice"]) == 2
    assert await s.set_remark(i["alice"], i["bob"], "Bobby ü")
    assert not await s.set_remark(i["alice"], i["dave"], "stranger")
    assert await s.contacts(i["alice"]) == [Contact("bob", "Bobby ü"), Contact("carol")]
    assert await s.contacts(i["bob"]) == [Contact("alice")]  # bob's side has its own remark
    assert await s.remove_contact(i["bob"], i["alice"])
    assert not await s.remove_contact(i["alice"], i["bob"])
    assert await s.contacts(i["alice"]) == [Contact("carol")]
    assert await s.contacts(i["bob"]) == []


async def test_contact_pages_by_username(world: World) -> None:
    s, i = world.store, world.id
    for name in ("dave", "bob", "carol"):
        await s.add_contact(i["alice"], i[name], 1)
    first = await s.contact_page(i["alice"], 2, None)
    assert [c.username for c in first] == ["bob", "carol"]
    rest = await s.contact_page(i["alice"], 2, "carol")
    assert [c.username for c in rest] == ["dave"]
    assert await s.contact_page(i["alice"], 2, "dave") == []


async def test_requests_are_pending_until_contacts(world: World) -> None:
    s, i = world.store, world.id
    assert await s.request_of(i["alice"], i["bob"]) is None
    await s.add_request(i["alice"], i["bob"], "hi", 1)
    await s.add_request(i["alice"], i["bob"], "hi again", 2)  # renewed, still one
    await s.add_request(i["bob"], i["alice"], "", 3)
    assert await s.request_of(i["alice"], i["bob"]) == "hi again"
    assert await s.request_of(i["bob"], i["alice"]) == ""
    assert await world.count(contact_requests) == 2
    await s.add_contact(i["bob"], i["alice"], 4)  # either way: both requests are answered
    assert await world.count(contact_requests) == 0
    await s.add_request(i["carol"], i["dave"], "x", 5)
    assert await s.remove_request(i["carol"], i["dave"])
    assert not await s.remove_request(i["carol"], i["dave"])


async def test_block_list_newest_first_and_idempotent(world: World) -> None:
    s, i = world.store, world.id
    await s.block(i["alice"], [i["bob"]], 1)
    await s.block(i["alice"], [i["carol"], i["bob"]], 2)  # bob keeps his place
    await s.block(i["alice"], [], 3)
    assert await s.blocked(i["alice"]) == ["carol", "bob"]
    assert await s.blocked_ids(i["alice"]) == {i["bob"], i["carol"]}
    assert await s.blocked(i["bob"]) == []
    await s.unblock(i["alice"], [i["bob"], i["dave"]])
    assert await s.blocked(i["alice"]) == ["carol"]


async def test_deleted_user_or_app_leaves_no_rows(world: World) -> None:
    s, i = world.store, world.id
    await s.add_contact(i["alice"], i["bob"], 1)
    await s.add_contact(i["carol"], i["bob"], 1)
    await s.add_request(i["dave"], i["bob"], "", 1)
    await s.add_request(i["bob"], i["alice"], "", 1)
    await s.block(i["bob"], [i["carol"]], 1)
    await s.block(i["alice"], [i["bob"]], 1)
    await world.users.delete(world.app.id, ["bob"])
    assert await s.contacts(i["alice"]) == []
    assert await s.contacts(i["carol"]) == []
    assert await s.request_of(i["dave"], i["bob"]) is None
    assert await s.blocked(i["alice"]) == []
    for table in (contacts, contact_requests, user_blocks):
        assert await world.count(table) == 0
    await s.add_contact(i["alice"], i["carol"], 2)
    await s.block(i["alice"], [i["dave"]], 2)
    await s.add_request(i["dave"], i["carol"], "", 2)
    await world.apps.delete(world.app.id)
    for table in (contacts, contact_requests, user_blocks):
        assert await world.count(table) == 0
