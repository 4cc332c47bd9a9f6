"""The message store on SQLite and PostgreSQL: group commit, inboxes, cursors, devices."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from kibitz.protocol import IdGenerator
from kibitz.server.app import build_services
from kibitz.server.domain.accounts import NewUser
from kibitz.server.domain.messaging import Draft
from kibitz.server.domain.models import App, User
from kibitz.server.services import Services
from kibitz.server.settings import Settings
from kibitz.server.storage.engine import create_engine
from kibitz.server.storage.migrate import migrate
from kibitz.server.storage.schema import cursors, devices, id_floor, inbox, queues
from kibitz.server.storage.stores import message_writer as store_module
from kibitz.server.storage.stores.messages import SqlMessageStore

pytestmark = pytest.mark.anyio


@dataclass
class World:
    services: Services
    store: SqlMessageStore
    app: App
    alice: User
    bob: User

    def draft(self, sender: User | None, to: str, *, resource: str = "r1", **kw: object) -> Draft:
        name = sender.username if sender else "admin"
        return Draft(
            app_pk=self.app.id,
            chat_type="chat",
            sender=name,
            sender_id=sender.id if sender else None,
            sender_resource=resource,
            recipient=to,
            recipient_inbox=True,
            encode=lambda i, ts: f"{i}:{ts}:{name}>{to}".encode(),
            **kw,  # type: ignore[arg-type]
        )


@pytest.fixture
async def world(settings_factory: Callable[..., Settings]) -> AsyncIterator[World]:
    services = build_services(settings_factory())
    await migrate(services.engine)
    store = services.messages
    await store.start()
    app = await services.apps.create("acme", "chat")
    created = await services.accounts.register(app, [NewUser("alice"), NewUser("bob")])
    alice, bob = created.created
    try:
        yield World(services, store, app, alice, bob)
    finally:
        await store.aclose()
        await services.engine.dispose()


async def test_append_pull_ack(world: World) -> None:
    s, alice, bob = world.store, world.alice, world.bob
    stored = await s.append([world.draft(alice, "bob") for _ in range(3)])
    ids = [x.id for x in stored if x is not None]
    assert len(ids) == 3 and ids == sorted(ids)
    await s.register_device(bob.id, "b1", 1)
    got = await s.pull(bob.id, "b1", "alice", 0, 10)
    assert [i for i, _ in got] == ids
    assert got[0][1].startswith(f"{ids[0]}:".encode())
    assert [(q.queue, q.count) for q in await s.unread(bob.id, "b1")] == [("alice", 3)]
    await s.ack(bob.id, "b1", "alice", ids[1])
    assert [i for i, _ in await s.pull(bob.id, "b1", "alice", 0, 10)] == ids[2:]
    await s.ack(bob.id, "b1", "alice", ids[0])  # an older key never moves a cursor back
    assert [(q.queue, q.count) for q in await s.unread(bob.id, "b1")] == [("alice", 1)]


async def test_unknown_recipient(world: World) -> None:
    s = world.store
    assert await s.append([world.draft(world.alice, "nobody")]) == [None]
    (stored,) = await s.append([world.draft(None, "nobody", require_recipient=False)])
    assert stored is not None and stored.id > 0


async def test_own_copies_skip_the_sending_device(world: World) -> None:
    s, alice = world.store, world.alice
    for r in ("a1", "a2"):
        await s.register_device(alice.id, r, 1)
    (stored,) = await s.append([world.draft(alice, "bob", resource="a1")])
    assert stored is not None
    assert await s.pull(alice.id, "a1", "alice", 0, 10) == []
    assert [i for i, _ in await s.pull(alice.id, "a2", "alice", 0, 10)] == [stored.id]
    (qc,) = await s.unread(alice.id, "a1")  # only a1's own send: counted 0, last id known
    assert (qc.queue, qc.count, qc.last_id) == ("alice", 0, stored.id)


async def test_new_device_starts_at_the_most_advanced_cursor(world: World) -> None:
    s, alice, bob = world.store, world.alice, world.bob
    await s.register_device(bob.id, "b1", 1)
    first = await s.append([world.draft(alice, "bob")])
    assert first[0] is not None
    await s.ack(bob.id, "b1", "alice", first[0].id)
    second = await s.append([world.draft(alice, "bob")])
    assert second[0] is not None
    assert await s.register_device(bob.id, "b2", 2) is True
    assert await s.register_device(bob.id, "b2", 3) is False
    assert [i for i, _ in await s.pull(bob.id, "b2", "alice", 0, 10)] == [second[0].id]


async def test_old_devices_are_forgotten(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "KEEP_DEVICES", 3)
    s, bob = world.store, world.bob
    for i in range(5):
        await s.register_device(bob.id, f"b{i}", i)
    assert [d.resource for d in await s.devices(bob.id)] == ["b4", "b3", "b2"]


async def test_concurrent_sends_share_commits(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = world.store
    batches: list[int] = []
    writer = s._writer
    original = writer._commit

    async def counting(batch: list[object]) -> None:
        batches.append(len(batch))
        await original(batch)  # type: ignore[arg-type]

    monkeypatch.setattr(writer, "_commit", counting)
    results = await asyncio.gather(
        *(s.append([world.draft(world.alice, "bob")]) for _ in range(200))
    )
    ids = [r[0].id for r in results if r[0] is not None]
    assert len(set(ids)) == 200
    assert sum(batches) == 200 and len(batches) < 50  # group commit, not one per send
    rows = await s.pull(world.bob.id, "b1", "alice", 0, 1000)
    assert [i for i, _ in rows] == sorted(ids)


async def test_a_failing_job_does_not_sink_its_batch(world: World) -> None:
    s = world.store
    # An acknowledgement for a device that never logged in breaks its foreign key.
    bad = asyncio.create_task(s.ack(world.bob.id, "ghost", "alice", 1))
    good = asyncio.create_task(s.append([world.draft(world.alice, "bob")]))
    await bad  # queued; its failure is logged, never raised to a reader
    assert (await good)[0] is not None
    assert await s.online(world.bob.id, "ghost") == {}


async def test_deleting_a_user_removes_its_mailbox(world: World) -> None:
    s, alice, bob = world.store, world.alice, world.bob
    await s.register_device(bob.id, "b1", 1)
    stored = await s.append([world.draft(alice, "bob")])
    assert stored[0] is not None
    await s.ack(bob.id, "b1", "alice", stored[0].id)
    await world.services.accounts.delete(world.app, ["bob"])
    async with world.services.engine.connect() as conn:
        for table in (inbox, queues, devices, cursors):
            count = await conn.scalar(
                select(func.count()).select_from(table).where(table.c.owner == bob.id)
            )
            assert count == 0, table.name


async def test_close_writes_what_is_queued(world: World) -> None:
    s = world.store
    pending = [asyncio.create_task(s.append([world.draft(world.alice, "bob")])) for _ in range(20)]
    await asyncio.sleep(0)  # let them queue
    await s.aclose()
    results = [await p for p in pending]
    assert all(r[0] is not None for r in results)
    with pytest.raises(RuntimeError):
        await s.append([world.draft(world.alice, "bob")])
    await s.start()  # the fixture closes it again


async def test_online_devices_are_answered_from_memory(world: World) -> None:
    s, alice, bob = world.store, world.alice, world.bob
    await s.register_device(bob.id, "b1", 1)
    first = await s.append([world.draft(alice, "bob")])  # the queue's first write here
    assert await s.online(bob.id, "b1") == {}
    rest = [x for x in await s.append([world.draft(alice, "bob") for _ in range(3)]) if x]
    ids = [first[0].id if first[0] else 0, *(x.id for x in rest)]
    assert [i for i, _ in await s.pull(bob.id, "b1", "alice", 0, 10)] == ids  # table
    await s.ack(bob.id, "b1", "alice", ids[1])
    engine, s._engine = s._engine, None  # type: ignore[assignment]  # no table reads now
    got = await s.pull(bob.id, "b1", "alice", 0, 10)
    assert [i for i, _ in got] == ids[2:]
    assert got[0][1].startswith(f"{ids[2]}:".encode())
    assert await s.pull(bob.id, "b1", "alice", ids[-1], 10) == []
    s._engine = engine
    s.offline(bob.id, "b1")
    assert [i for i, _ in await s.pull(bob.id, "b1", "alice", 0, 10)] == ids[2:]  # table


async def test_without_cache_everything_reads_the_table(
    settings_factory: Callable[..., Settings],
) -> None:
    services = build_services(settings_factory())
    await migrate(services.engine)
    store = SqlMessageStore(services.engine, services.ids, services.clock, cache=False)
    await store.start()
    try:
        app = await services.apps.create("acme", "chat")
        alice, bob = (
            await services.accounts.register(app, [NewUser("alice"), NewUser("bob")])
        ).created
        w = World(services, store, app, alice, bob)
        await store.register_device(bob.id, "b1", 1)
        await store.online(bob.id, "b1")
        stored = [x for x in await store.append([w.draft(alice, "bob") for _ in range(2)]) if x]
        await store.ack(bob.id, "b1", "alice", stored[0].id)
        assert [i for i, _ in await store.pull(bob.id, "b1", "alice", 0, 10)] == [stored[1].id]
    finally:
        await store.aclose()
        await services.engine.dispose()


async def test_ids_keep_growing_when_the_clock_steps_back(
    settings_factory: Callable[..., Settings],
) -> None:
    class Clock:
        now = 1_800_000_000_000

        def now_ms(self) -> int:
            return self.now

    clock = Clock()
    services = build_services(settings_factory(), clock)
    await migrate(services.engine)
    app = await services.apps.create("acme", "chat")
    alice, bob = (await services.accounts.register(app, [NewUser("alice"), NewUser("bob")])).created
    before: list[int] = []
    for step in (0, -3_600_000):  # a restart after the clock went back an hour
        clock.now += step
        store = SqlMessageStore(services.engine, IdGenerator(clock.now_ms), clock)
        await store.start()
        w = World(services, store, app, alice, bob)
        got = [x.id for x in await store.append([w.draft(alice, "bob") for _ in range(3)]) if x]
        await store.aclose()
        assert got == sorted(got) and all(i > j for i in got for j in before)
        before += got
    await services.engine.dispose()


# -- shared mode: several nodes, one database ----------------------------------------------


class SteppedClock:
    def __init__(self, now: int) -> None:
        self.now = now

    def now_ms(self) -> int:
        self.now += 1
        return self.now


@dataclass
class Cluster:
    world: World
    nodes: list[SqlMessageStore]


@pytest.fixture
async def cluster(
    settings_factory: Callable[..., Settings], request: pytest.FixtureRequest
) -> AsyncIterator[Cluster]:
    """Two nodes on one database, each with its own engine; node 1's clock is an hour
    behind node 0's."""
    shared = getattr(request, "param", True)
    settings = settings_factory()
    services = build_services(settings)
    await migrate(services.engine)
    app = await services.apps.create("acme", "chat")
    alice, bob = (await services.accounts.register(app, [NewUser("alice"), NewUser("bob")])).created
    engines = [services.engine, create_engine(settings.resolved_database_url())]
    nodes = []
    for n, (engine, behind) in enumerate(zip(engines, (0, 3_600_000), strict=True)):
        clock = SteppedClock(1_800_000_000_000 - behind)
        ids = IdGenerator(clock.now_ms, node=n)
        nodes.append(SqlMessageStore(engine, ids, clock, shared=shared))
    for node in nodes:
        await node.start()
    try:
        yield Cluster(World(services, nodes[0], app, alice, bob), nodes)
    finally:
        for node in nodes:
            await node.aclose()
        for engine in engines:
            await engine.dispose()


async def test_shared_ids_grow_in_commit_order_across_nodes(cluster: Cluster) -> None:
    w = cluster.world
    committed = []
    for i in range(20):  # alternating nodes; the second node's clock is an hour behind
        (stored,) = await cluster.nodes[i % 2].append([w.draft(w.alice, "bob")])
        assert stored is not None
        committed.append(stored.id)
    assert committed == sorted(committed) and len(set(committed)) == 20
    async with w.services.engine.connect() as conn:
        assert await conn.scalar(select(id_floor.c.last_id)) == committed[-1]


@pytest.mark.parametrize("cluster", [False], indirect=True)
async def test_without_shared_mode_a_slow_clock_breaks_the_order(cluster: Cluster) -> None:
    """The control for the test above: it would catch a writer that ignores the floor."""
    w = cluster.world
    ids = []
    for i in range(4):
        (stored,) = await cluster.nodes[i % 2].append([w.draft(w.alice, "bob")])
        assert stored is not None
        ids.append(stored.id)
    assert ids != sorted(ids)


async def test_shared_acknowledging_while_two_nodes_write_loses_nothing(cluster: Cluster) -> None:
    """A device pulls and acknowledges "everything ≤ key" while both nodes commit: every
    message still reaches it (a later commit never has a smaller id)."""
    w = cluster.world
    reader = cluster.nodes[0]
    await reader.register_device(w.bob.id, "b1", 1)
    await reader.online(w.bob.id, "b1")
    sent: list[int] = []
    seen: list[int] = []
    writing = True

    async def write(node: SqlMessageStore) -> None:
        for _ in range(15):
            got = await asyncio.gather(*(node.append([w.draft(w.alice, "bob")]) for _ in range(4)))
            sent.extend(r[0].id for r in got if r[0] is not None)

    async def read() -> None:
        while True:
            more = writing
            rows = await reader.pull(w.bob.id, "b1", "alice", 0, 1000)
            if rows:
                seen.extend(i for i, _ in rows)
                await reader.ack(w.bob.id, "b1", "alice", rows[-1][0])
            elif not more:
                return
            await asyncio.sleep(0)  # let the writers run between pulls

    reading = asyncio.create_task(read())
    await asyncio.gather(*(write(node) for node in cluster.nodes))
    writing = False
    await asyncio.wait_for(reading, 30)
    assert len(sent) == 120 and sorted(seen) == sorted(sent)


async def test_shared_nodes_see_each_others_writes(cluster: Cluster) -> None:
    """No cache in shared mode: an online device's pull finds what another node wrote."""
    w = cluster.world
    here, there = cluster.nodes
    await here.register_device(w.bob.id, "b1", 1)
    await here.online(w.bob.id, "b1")
    (mine,) = await here.append([w.draft(w.alice, "bob")])
    (theirs,) = await there.append([w.draft(w.alice, "bob")])
    assert mine is not None and theirs is not None
    assert [i for i, _ in await here.pull(w.bob.id, "b1", "alice", mine.id, 10)] == [theirs.id]


async def test_not_shared_leaves_the_floor_alone(world: World) -> None:
    async with world.services.engine.connect() as conn:
        before = await conn.scalar(select(id_floor.c.last_id))
    assert await world.store.append([world.draft(world.alice, "bob")]) != [None]
    async with world.services.engine.connect() as conn:
        assert await conn.scalar(select(id_floor.c.last_id)) == before
