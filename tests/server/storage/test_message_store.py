"""The message store contract, on a SQLite file and on PostgreSQL (``database_url``):
group commit, exactly the given inbox rows, cursors, devices, shared mode."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import pytest
from sqlalchemy import Table, func, select

from kibitz.protocol import IdGenerator
from kibitz.protocol._msync import Content, ContentKind, content_to_pb, pb
from kibitz.server.app import build_services
from kibitz.server.domain.accounts import NewUser
from kibitz.server.domain.delivery import Target, TargetKind, member_device
from kibitz.server.domain.events import Notice
from kibitz.server.domain.messaging import Draft, InboxRow, MessagingService, Registered, Sender
from kibitz.server.domain.models import App, User
from kibitz.server.domain.sync import SyncService
from kibitz.server.services import Services
from kibitz.server.settings import Settings
from kibitz.server.storage.engine import create_engine
from kibitz.server.storage.migrate import migrate
from kibitz.server.storage.schema import cursors, devices, id_floor, inbox, messages, queues
from kibitz.server.storage.stores import message_writer as store_module
from kibitz.server.storage.stores.messages import SqlMessageStore
from kibitz.server.storage.stores.users import SqlUserStore

from ..domain.conversation_fakes import FakeConversations

pytestmark = pytest.mark.anyio

GROUP = "g:5d1c0b7e-0000-4000-8000-000000000001"  # a conversation's key: owns its rows
QUEUE = "g1@conference.easemob.com"


class RecordingBus:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    async def publish(self, notices: Sequence[Notice]) -> None:
        self.notices.extend(notices)


def text(t: str) -> pb.MessageBody:
    body = pb.MessageBody(type=pb.MessageBody.GROUPCHAT)
    body.contents.append(content_to_pb(Content(kind=ContentKind.TEXT, text=t)))
    return body


@dataclass
class World:
    services: Services
    store: SqlMessageStore
    app: App
    alice: User
    bob: User

    def draft(
        self, sender: User | None, to: str, *, resource: str = "r1", copy: bool = True
    ) -> Draft:
        """``sender`` → ``to`` as the domain plans it: the recipient's row (if ``to`` has an
        account here) and the sender's copy, skipped by the sending device."""
        name = sender.username if sender else "admin"
        rows = [InboxRow(u.id, name) for u in (self.alice, self.bob) if u.username == to]
        if sender is not None and copy:
            rows.append(InboxRow(sender.id, name, resource))
        return self.raw(name, to, tuple(rows), resource=resource)

    def raw(self, sender: str, to: str, rows: tuple[InboxRow, ...], resource: str = "r1") -> Draft:
        return Draft(
            app_pk=self.app.id,
            chat_type="chat",
            sender=sender,
            sender_resource=resource,
            recipient=to,
            rows=rows,
            encode=lambda i, ts: f"{i}:{ts}:{sender}>{to}".encode(),
        )


async def _world(settings: Settings, **store_opts: bool) -> World:
    services = build_services(settings)
    await migrate(services.engine)
    store = SqlMessageStore(services.engine, services.ids, services.clock, **store_opts)
    await store.start()
    app = await services.apps.create("acme", "chat")
    alice, bob = (await services.accounts.register(app, [NewUser("alice"), NewUser("bob")])).created
    return World(services, store, app, alice, bob)


@pytest.fixture(params=[False, True], ids=["single", "shared"])
async def world(
    settings_factory: Callable[..., Settings], request: pytest.FixtureRequest
) -> AsyncIterator[World]:
    """Every contract test runs on one node and in shared mode (floor, no cache)."""
    w = await _world(settings_factory(), shared=request.param)
    try:
        yield w
    finally:
        await w.store.aclose()
        await w.services.engine.dispose()


@pytest.fixture
async def single(settings_factory: Callable[..., Settings]) -> AsyncIterator[World]:
    """One node, with its cache (the composition root's store)."""
    w = await _world(settings_factory())
    try:
        yield w
    finally:
        await w.store.aclose()
        await w.services.engine.dispose()


async def _count(w: World, table: Table, **where: str) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    async with w.services.engine.connect() as conn:
        return int(await conn.scalar(query) or 0)


async def test_append_pull_ack(world: World) -> None:
    s, alice, bob = world.store, world.alice, world.bob
    stored = await s.append([world.draft(alice, "bob") for _ in range(3)])
    ids = [x.id for x in stored]
    assert len(ids) == 3 and ids == sorted(ids)
    await s.register_device(bob.id, "b1", 1)
    got = await s.pull(bob.id, "b1", "alice", 0, 10)
    assert [i for i, _ in got] == ids
    assert got[0][1] == f"{ids[0]}:{stored[0].timestamp_ms}:alice>bob".encode()
    assert [i for i, _ in await s.pull(bob.id, "b1", "alice", ids[0], 1)] == ids[1:2]
    assert [(q.queue, q.count, q.last_id) for q in await s.unread(bob.id, "b1")] == [
        ("alice", 3, ids[2])
    ]
    await s.ack(bob.id, "b1", "alice", ids[1])
    assert [i for i, _ in await s.pull(bob.id, "b1", "alice", 0, 10)] == ids[2:]
    await s.ack(bob.id, "b1", "alice", ids[0])  # an older key never moves a cursor back
    assert [(q.queue, q.count) for q in await s.unread(bob.id, "b1")] == [("alice", 1)]
    await s.ack(bob.id, "b1", "alice", ids[2])
    assert await s.unread(bob.id, "b1") == []


async def test_exactly_the_given_rows_are_written(world: World) -> None:
    s, alice, bob = world.store, world.alice, world.bob
    (to_bob,) = await s.append([world.draft(alice, "bob", copy=False)])
    (nowhere,) = await s.append([world.raw("admin", "nobody", ())])  # REST, no such user
    assert nowhere.id > to_bob.id
    assert await _count(world, messages) == 2
    assert await _count(world, inbox) == 1
    assert await _count(world, inbox, owner=bob.id, queue="alice") == 1
    assert await _count(world, queues, owner=alice.id) == 0  # no copy was asked for
    await s.register_device(alice.id, "a9", 1)
    assert await s.pull(alice.id, "a9", "alice", 0, 10) == []


async def test_a_failing_call_fails_only_itself(world: World) -> None:
    s = world.store
    twice = (InboxRow(world.bob.id, "alice"), InboxRow(world.bob.id, "alice"))  # one key
    bad = asyncio.create_task(s.append([world.raw("alice", "bob", twice)]))
    good = asyncio.create_task(s.append([world.draft(world.alice, "bob")]))
    with pytest.raises(Exception):  # noqa: B017 - the driver's integrity error
        await bad
    (stored,) = await good
    await s.register_device(world.bob.id, "b1", 1)
    assert [i for i, _ in await s.pull(world.bob.id, "b1", "alice", 0, 10)] == [stored.id]
    assert await _count(world, messages) == 1  # nothing of the failed call


async def test_a_row_may_belong_to_no_user(world: World) -> None:
    """An owner references no table: a conversation's key owns rows like a user id."""
    (stored,) = await world.store.append([world.raw("alice", "g1", (InboxRow(GROUP, QUEUE),))])
    assert await _count(world, inbox, owner=GROUP, queue=QUEUE) == 1
    assert await _count(world, queues, owner=GROUP) == 1
    assert stored.id > 0


async def test_own_copies_skip_the_sending_device(world: World) -> None:
    s, alice = world.store, world.alice
    for r in ("a1", "a2"):
        await s.register_device(alice.id, r, 1)
    (stored,) = await s.append([world.draft(alice, "bob", resource="a1")])
    assert await s.pull(alice.id, "a1", "alice", 0, 10) == []
    assert [i for i, _ in await s.pull(alice.id, "a2", "alice", 0, 10)] == [stored.id]
    (qc,) = await s.unread(alice.id, "a1")  # only a1's own send: counted 0, last id known
    assert (qc.queue, qc.count, qc.last_id) == ("alice", 0, stored.id)
    (qc,) = await s.unread(alice.id, "a2")
    assert (qc.queue, qc.count, qc.last_id) == ("alice", 1, stored.id)


async def test_register_device(world: World) -> None:
    s, alice, bob = world.store, world.alice, world.bob
    assert await s.register_device(bob.id, "b1", 1) == Registered(new=True, devices=1)
    assert await s.register_device(bob.id, "b1", 5) == Registered(new=False, devices=1)
    assert await s.register_device(bob.id, "b2", 6) == (True, 2)
    assert await s.register_device(alice.id, "a1", 7) == (True, 1)
    assert [(d.resource, d.created_ms, d.last_seen_ms) for d in await s.devices(bob.id)] == [
        ("b2", 6, 6),
        ("b1", 1, 5),
    ]


async def test_new_device_starts_at_the_most_advanced_cursor(world: World) -> None:
    s, alice, bob = world.store, world.alice, world.bob
    await s.register_device(bob.id, "b1", 1)
    await s.register_device(bob.id, "b0", 1)
    first = await s.append([world.draft(alice, "bob") for _ in range(2)])
    await s.ack(bob.id, "b1", "alice", first[1].id)  # b1 is ahead of b0
    await s.ack(bob.id, "b0", "alice", first[0].id)
    (second,) = await s.append([world.draft(alice, "bob")])
    assert await s.register_device(bob.id, "b2", 2) == (True, 3)
    assert await s.register_device(bob.id, "b2", 3) == (False, 3)
    assert await s.online(bob.id, "b2") == {"alice": first[1].id}
    assert [i for i, _ in await s.pull(bob.id, "b2", "alice", 0, 10)] == [second.id]
    assert [(q.queue, q.count) for q in await s.unread(bob.id, "b2")] == [("alice", 1)]


async def test_old_devices_are_forgotten(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "KEEP_DEVICES", 3)
    s, bob = world.store, world.bob
    for i in range(5):
        await s.register_device(bob.id, f"b{i}", i)
    assert [d.resource for d in await s.devices(bob.id)] == ["b4", "b3", "b2"]
    assert await s.register_device(bob.id, "b5", 5) == (True, 3)


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
    ids = [r[0].id for r in results]
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
    assert len(await good) == 1
    assert await s.online(world.bob.id, "ghost") == {}


async def test_deleting_a_user_removes_its_mailbox(world: World) -> None:
    s, alice, bob = world.store, world.alice, world.bob
    await s.register_device(bob.id, "b1", 1)
    stored = await s.append([world.draft(alice, "bob", copy=False), world.draft(bob, "alice")])
    await s.append([world.raw("bob", "g1", (InboxRow(GROUP, QUEUE, f"{bob.id}/b1"),))])
    await s.ack(bob.id, "b1", "alice", stored[0].id)
    await s.ack(bob.id, "b1", QUEUE, stored[0].id)
    await world.services.accounts.delete(world.app, ["bob"])
    for table in (inbox, queues, devices, cursors):
        assert await _count(world, table, owner=bob.id) == 0, table.name
    assert await _count(world, inbox, owner=alice.id) == 1  # bob's message to alice stays
    assert await _count(world, inbox, owner=GROUP) == 1  # as does what bob said in a group


async def test_deleting_an_app_removes_its_users_mailboxes(world: World) -> None:
    s = world.store
    await s.register_device(world.bob.id, "b1", 1)
    await s.append([world.draft(world.alice, "bob"), world.draft(world.bob, "alice")])
    await world.services.apps.delete("acme", "chat")
    for user in (world.alice, world.bob):
        for table in (inbox, queues, devices, cursors):
            assert await _count(world, table, owner=user.id) == 0, table.name


async def test_close_writes_what_is_queued(world: World) -> None:
    s = world.store
    pending = [asyncio.create_task(s.append([world.draft(world.alice, "bob")])) for _ in range(20)]
    await asyncio.sleep(0)  # let them queue
    await s.aclose()
    results = [await p for p in pending]
    assert all(len(r) == 1 for r in results)
    assert await _count(world, messages) == 20
    with pytest.raises(RuntimeError):
        await s.append([world.draft(world.alice, "bob")])
    await s.start()  # the fixture closes it again


async def test_online_devices_are_answered_from_memory(single: World) -> None:
    world = single
    s, alice, bob = world.store, world.alice, world.bob
    await s.register_device(bob.id, "b1", 1)
    first = await s.append([world.draft(alice, "bob")])  # the queue's first write here
    assert await s.online(bob.id, "b1") == {}
    rest = await s.append([world.draft(alice, "bob") for _ in range(3)])
    ids = [first[0].id, *(x.id for x in rest)]
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
    w = await _world(settings_factory(), cache=False)
    store, alice, bob = w.store, w.alice, w.bob
    try:
        await store.register_device(bob.id, "b1", 1)
        await store.online(bob.id, "b1")
        stored = await store.append([w.draft(alice, "bob") for _ in range(2)])
        await store.ack(bob.id, "b1", "alice", stored[0].id)
        assert [i for i, _ in await store.pull(bob.id, "b1", "alice", 0, 10)] == [stored[1].id]
    finally:
        await store.aclose()
        await w.services.engine.dispose()


@pytest.mark.parametrize("shared", [False, True])
async def test_ids_keep_growing_when_the_clock_steps_back(
    settings_factory: Callable[..., Settings], shared: bool
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
        store = SqlMessageStore(services.engine, IdGenerator(clock.now_ms), clock, shared=shared)
        await store.start()
        w = World(services, store, app, alice, bob)
        got = [x.id for x in await store.append([w.draft(alice, "bob") for _ in range(3)])]
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
            sent.extend(r[0].id for r in got)

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
    assert [i for i, _ in await here.pull(w.bob.id, "b1", "alice", mine.id, 10)] == [theirs.id]


async def test_not_shared_leaves_the_floor_alone(single: World) -> None:
    world = single
    async with world.services.engine.connect() as conn:
        before = await conn.scalar(select(id_floor.c.last_id))
    assert len(await world.store.append([world.draft(world.alice, "bob")])) == 1
    async with world.services.engine.connect() as conn:
        assert await conn.scalar(select(id_floor.c.last_id)) == before


# -- conversations: one queue written once, read by every member device -------------------


def to_group(w: World, sender: User, resource: str = "r1") -> Draft:
    """``sender`` → the group as the domain plans it: one row, skipped by the sending
    device (named by user id and resource: other members may use the same resource)."""
    row = InboxRow(GROUP, QUEUE, member_device(sender.id, resource))
    return w.raw(sender.username, "g1", (row,), resource=resource)


async def test_a_conversation_of_1000_members_is_written_once_per_message(world: World) -> None:
    w = world
    more = [
        User(str(uuid.uuid4()), w.app.id, f"m{i:04}", None, True, None, 1, 1, 0) for i in range(998)
    ]
    await SqlUserStore(w.services.engine).add_many(more)
    members = [w.alice, w.bob, *more]
    fake = FakeConversations()
    fake.add(w.app.id, TargetKind.GROUP, "g1", {u.id: u.username for u in members}, key=GROUP)
    bus = RecordingBus()
    messaging = MessagingService(
        w.store, bus, w.services.live_sessions, w.services.clock, conversations=fake
    )
    sync = SyncService(w.store, batch_size=100, conversations=fake)
    await asyncio.gather(*(sync.device_online(u.id, "d1", 1) for u in members))
    sender = Sender(w.app, "alice", w.alice.id, "d1")
    target = Target(TargetKind.GROUP, "g1")
    sent = [(await messaging.send(sender, target, text("hi"))).id for _ in range(5)]
    assert await _count(w, messages) == 5
    assert await _count(w, inbox) == 5  # not 5 × 1,000
    assert await _count(w, inbox, owner=GROUP, queue=QUEUE) == 5
    assert await _count(w, queues) == 1
    pulled = await asyncio.gather(*(sync.pull(u.id, "d1", QUEUE, 0) for u in members[1:]))
    assert all([i for i, _ in rows] == sent for rows in pulled)
    assert await sync.pull(w.alice.id, "d1", QUEUE, 0) == []  # the sending device
    assert bus.notices == []  # nobody is online here: no notice


async def test_member_devices_read_a_conversation_with_their_own_cursors(world: World) -> None:
    s, alice, bob = world.store, world.alice, world.bob
    for user, resource in ((alice, "a1"), (bob, "b1"), (bob, "b2")):
        await s.register_device(user.id, resource, 1)
    ids = [x.id for x in await s.append([to_group(world, alice, "a1") for _ in range(3)])]
    rows = await s.pull(bob.id, "b1", QUEUE, 0, 10, rows_owner=GROUP)
    assert [i for i, _ in rows] == ids
    assert rows[0][1].startswith(f"{ids[0]}:".encode()) and rows[0][1].endswith(b":alice>g1")
    await s.ack(bob.id, "b1", QUEUE, ids[1])
    assert [i for i, _ in await s.pull(bob.id, "b1", QUEUE, 0, 10, GROUP)] == ids[2:]
    assert [i for i, _ in await s.pull(bob.id, "b2", QUEUE, 0, 10, GROUP)] == ids  # its own
    assert await s.pull(alice.id, "a1", QUEUE, 0, 10, GROUP) == []  # what it sent itself
    assert await s.pull(bob.id, "b1", QUEUE, 0, 10) == []  # bob owns no rows of that queue
    pairs = [(GROUP, QUEUE)]
    assert [(q.queue, q.count, q.last_id) for q in await s.unread(bob.id, "b1", pairs)] == [
        (QUEUE, 1, ids[2])
    ]
    assert [(q.queue, q.count) for q in await s.unread(bob.id, "b2", pairs)] == [(QUEUE, 3)]
    assert [(q.queue, q.count) for q in await s.unread(alice.id, "a1", pairs)] == [(QUEUE, 0)]
    assert await s.unread(bob.id, "b1") == []  # without its conversations: nothing
    await s.ack(bob.id, "b1", QUEUE, ids[2])
    assert await s.unread(bob.id, "b1", pairs) == []
    assert await _count(world, inbox) == 3


async def test_same_resource_of_another_member_still_reads_the_row(world: World) -> None:
    s, alice, bob = world.store, world.alice, world.bob
    await s.register_device(bob.id, "web", 1)
    (stored,) = await s.append([to_group(world, alice, "web")])
    assert [i for i, _ in await s.pull(bob.id, "web", QUEUE, 0, 10, GROUP)] == [stored.id]


async def test_unread_mixes_own_and_conversation_queues_by_newest(world: World) -> None:
    s, alice, bob = world.store, world.alice, world.bob
    await s.register_device(bob.id, "b1", 1)
    (first,) = await s.append([world.draft(alice, "bob")])
    (second,) = await s.append([to_group(world, alice)])
    (third,) = await s.append([world.draft(alice, "bob")])
    counts = await s.unread(bob.id, "b1", [(GROUP, QUEUE)])
    assert [(q.queue, q.count, q.last_id) for q in counts] == [
        (QUEUE, 1, second.id),
        ("alice", 2, third.id),
    ]
    assert first.id < second.id


async def test_a_members_new_device_starts_at_its_most_advanced_cursor(world: World) -> None:
    s, alice, bob = world.store, world.alice, world.bob
    for resource in ("b1", "b0"):
        await s.register_device(bob.id, resource, 1)
    first = await s.append([to_group(world, alice) for _ in range(3)])
    await s.ack(bob.id, "b1", QUEUE, first[1].id)
    await s.ack(bob.id, "b0", QUEUE, first[0].id)
    (second,) = await s.append([to_group(world, alice)])
    assert await s.register_device(bob.id, "b2", 2) == (True, 3)
    assert await s.online(bob.id, "b2") == {QUEUE: first[1].id}
    got = await s.pull(bob.id, "b2", QUEUE, 0, 10, GROUP)
    assert [i for i, _ in got] == [first[2].id, second.id]
    assert [(q.queue, q.count) for q in await s.unread(bob.id, "b2", [(GROUP, QUEUE)])] == [
        (QUEUE, 2)
    ]


async def test_online_members_read_a_conversation_from_memory(single: World) -> None:
    world = single
    s, alice, bob = world.store, world.alice, world.bob
    for user, resource in ((alice, "a1"), (bob, "b1")):
        await s.register_device(user.id, resource, 1)
        await s.online(user.id, resource)
    first = await s.append([to_group(world, alice, "a1")])  # the queue's first write here
    rest = await s.append([to_group(world, alice, "a1") for _ in range(3)])
    ids = [first[0].id, *(x.id for x in rest)]
    assert [i for i, _ in await s.pull(bob.id, "b1", QUEUE, 0, 10, GROUP)] == ids  # table
    await s.ack(bob.id, "b1", QUEUE, ids[1])
    engine, s._engine = s._engine, None  # type: ignore[assignment]  # no table reads now
    try:
        assert [i for i, _ in await s.pull(bob.id, "b1", QUEUE, 0, 10, GROUP)] == ids[2:]
        assert await s.pull(alice.id, "a1", QUEUE, ids[0], 10, GROUP) == []  # its own sends
        assert await s.pull(bob.id, "b1", QUEUE, ids[-1], 10, GROUP) == []
    finally:
        s._engine = engine
