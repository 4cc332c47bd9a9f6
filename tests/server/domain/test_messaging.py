"""The messaging domain with fakes: validation, results per recipient, the inbox rows it
asks the store for, who is notified, its id cache and device counts."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import (
    GROUP_DOMAIN,
    Content,
    ContentKind,
    content_to_pb,
    decode_payload,
    pb,
)
from kibitz.server.domain.delivery import Target, TargetKind
from kibitz.server.domain.messaging import (
    Draft,
    InboxRow,
    MessagingService,
    Notice,
    QueueCount,
    Registered,
    Sender,
    Stored,
    validate_body,
)
from kibitz.server.domain.models import App
from kibitz.server.domain.sync import SyncService

from .conversation_fakes import FakeConversations

pytestmark = pytest.mark.anyio

APP = App("app-1", "acme", "chat", "cid", "sec", "a" * 32, "b" * 32, "tok", 4, 0)


class FakeStore:
    def __init__(self, known: set[str]) -> None:
        self.known = {name: f"{name}-id" for name in known}
        self.drafts: list[Draft] = []
        self.lookups: list[list[str]] = []
        self.fail_owners: set[str] = set()
        self.devices = 1
        self.reads: list[tuple[object, ...]] = []

    async def user_ids(self, app_pk: str, usernames: Sequence[str]) -> dict[str, str]:
        self.lookups.append(list(usernames))
        return {n: self.known[n] for n in usernames if n in self.known}

    async def append(self, drafts: Sequence[Draft]) -> list[Stored]:
        if any(row.owner in self.fail_owners for d in drafts for row in d.rows):
            raise RuntimeError("foreign key")  # a row's owner is gone
        self.drafts.extend(drafts)
        return [Stored(len(self.drafts) - len(drafts) + i + 1, 1000) for i in range(len(drafts))]

    async def register_device(self, owner: str, resource: str, now_ms: int) -> Registered:
        return Registered(True, self.devices)

    async def online(self, owner: str, resource: str) -> dict[str, int]:
        return {}

    # reads, as the sync service asks for them
    async def pull(
        self,
        owner: str,
        resource: str,
        queue: str,
        after: int,
        limit: int,
        rows_owner: str | None = None,
    ) -> list[tuple[int, bytes]]:
        self.reads.append(("pull", owner, resource, queue, rows_owner))
        return [(1, b"m")]

    async def unread(
        self, owner: str, resource: str, conversations: Sequence[tuple[str, str]] = ()
    ) -> list[QueueCount]:
        self.reads.append(("unread", owner, resource, tuple(conversations)))
        return [QueueCount(q, 1, 5) for _, q in conversations]

    async def ack(self, owner: str, resource: str, queue: str, key: int) -> None:
        self.reads.append(("ack", owner, resource, queue, key))


class FakeBus:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    async def publish(self, notices: Sequence[Notice]) -> None:
        self.notices.extend(notices)


class Presence:
    def __init__(self) -> None:
        self.online = {"bob"}
        self.asked: list[list[str]] = []

    async def online_users(self, app_pk: str, usernames: Sequence[str]) -> set[str]:
        self.asked.append(list(usernames))
        return self.online & set(usernames)

    async def kick(self, *args: object) -> int:
        return 0


class Clock:
    def now_ms(self) -> int:
        return 1000


def text(t: str) -> pb.MessageBody:
    body = pb.MessageBody(type=pb.MessageBody.CHAT)
    body.contents.append(content_to_pb(Content(kind=ContentKind.TEXT, text=t)))
    return body


def service(
    known: set[str],
    *,
    shared: bool = False,
    max_cached: int = 100,
    conversations: FakeConversations | None = None,
    presence: Presence | None = None,
) -> tuple[MessagingService, FakeStore, FakeBus]:
    store, bus = FakeStore(known), FakeBus()
    svc = MessagingService(
        store,  # type: ignore[arg-type]
        bus,
        presence or Presence(),
        Clock(),
        shared=shared,
        max_cached=max_cached,
        conversations=conversations,
    )
    return svc, store, bus


ALICE = Sender(APP, "alice", "alice-id", "a1")


async def test_results_per_recipient_and_notices() -> None:
    svc, store, bus = service({"alice", "bob"})
    results = await svc.send_many(ALICE, ["bob", "nobody", "Bad!"], text("hi"))
    assert isinstance(results[0], Stored)
    assert isinstance(results[1], ChatError) and results[1].code is ErrorCode.USER_NOT_FOUND
    assert results[1].description == "username nobody doesn't exist!"
    assert isinstance(results[2], ChatError)
    assert [d.recipient for d in store.drafts] == ["bob"]  # nothing stored for "nobody"
    (draft,) = store.drafts
    # The sender's device count is unknown here: it may have other devices, so a copy.
    assert draft.rows == (InboxRow("bob-id", "alice"), InboxRow("alice-id", "alice", "a1"))
    assert [(n.username, n.queue, n.queue_resource, n.skip_resource) for n in bus.notices] == [
        ("bob", "alice", "", None),
        ("alice", "alice", "a1", "a1"),
    ]


async def test_the_stored_meta_names_the_session_sender() -> None:
    svc, store, _ = service({"bob"})
    body = text("hi")
    body.from_jid.name = "mallory"
    await svc.send(ALICE, "bob", body)
    meta = pb.Meta.FromString(store.drafts[0].encode(77, 1234))
    assert (meta.id, meta.timestamp, meta.ns) == (77, 1234, pb.Meta.CHAT)
    assert (meta.from_jid.name, meta.from_jid.client_resource, meta.to_jid.name) == (
        "alice",
        "a1",
        "bob",
    )
    inner = decode_payload(pb.MessageBody, meta.payload)
    assert (inner.from_jid.name, inner.to_jid.name) == ("alice", "bob")


async def test_online_only_and_unknown_ok() -> None:
    svc, store, bus = service({"bob", "carol"})
    rest = Sender(APP, "admin", None)
    results = await svc.send_many(
        rest, ["bob", "carol", "dave"], text("x"), online_only=True, unknown_ok=True
    )
    assert all(isinstance(r, Stored) for r in results)
    assert [(d.recipient, d.rows) for d in store.drafts] == [
        ("bob", (InboxRow("bob-id", "admin"),)),
        ("carol", ()),  # offline, online only: stored, not delivered
        ("dave", ()),  # no such user, REST: stored, not delivered
    ]
    assert [n.username for n in bus.notices] == ["bob"]  # admin has no devices


async def test_a_note_to_self_is_only_a_copy() -> None:
    svc, store, bus = service({"alice"})
    await svc.send(ALICE, "alice", text("note"))
    assert store.drafts[0].rows == (InboxRow("alice-id", "alice", "a1"),)
    assert [(n.username, n.skip_resource) for n in bus.notices] == [("alice", "a1")]


async def test_copies_only_when_the_sender_has_other_devices() -> None:
    svc, store, bus = service({"bob"})
    sync = SyncService(store, batch_size=10, counts=svc)  # type: ignore[arg-type]
    await sync.device_online("alice-id", "a1", 1)  # the fake says: one device
    await svc.send(ALICE, "bob", text("x"))
    assert store.drafts[-1].rows == (InboxRow("bob-id", "alice"),)
    assert [n.username for n in bus.notices] == ["bob"]
    svc.device_count("alice-id", 2)
    await svc.send(ALICE, "bob", text("x"))
    assert store.drafts[-1].rows[1:] == (InboxRow("alice-id", "alice", "a1"),)


async def test_shared_mode_always_copies() -> None:
    svc, store, _ = service({"bob"}, shared=True)
    svc.device_count("alice-id", 1)  # this node's count: another node may know better
    await svc.send(ALICE, "bob", text("x"))
    assert store.drafts[-1].rows[1:] == (InboxRow("alice-id", "alice", "a1"),)


async def test_user_ids_are_cached_and_forgotten() -> None:
    svc, store, _ = service({"bob", "carol"}, max_cached=1)
    await svc.send(ALICE, "bob", text("x"))
    await svc.send(ALICE, "bob", text("x"))
    assert store.lookups == [["bob"]]
    svc.forget_user(APP.id, "bob")
    store.known["bob"] = "bob-id-2"  # deleted and created again
    await svc.send(ALICE, "bob", text("x"))
    assert store.drafts[-1].rows[0] == InboxRow("bob-id-2", "alice")
    await svc.send(ALICE, "carol", text("x"))  # the cache holds one name: bob goes
    await svc.send(ALICE, "bob", text("x"))
    assert store.lookups == [["bob"], ["bob"], ["carol"], ["bob"]]


async def test_a_stale_cached_id_is_looked_up_again() -> None:
    svc, store, _ = service({"bob"})
    await svc.send(ALICE, "bob", text("x"))
    store.fail_owners.add("bob-id")  # bob was deleted and created again elsewhere
    store.known["bob"] = "bob-id-2"
    stored = await svc.send(ALICE, "bob", text("x"))
    assert stored.id == 2 and store.drafts[-1].rows[0] == InboxRow("bob-id-2", "alice")
    store.fail_owners.add("bob-id-2")  # a failure that a fresh lookup does not explain
    with pytest.raises(RuntimeError):
        await svc.send(ALICE, "bob", text("x"))


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (pb.MessageBody(type=pb.MessageBody.CHAT), ErrorCode.MESSAGE_INVALID),
        (pb.MessageBody(type=pb.MessageBody.READ_ACK), ErrorCode.MESSAGE_INVALID),
        (pb.MessageBody(type=pb.MessageBody.RECALL), ErrorCode.SERVICE_NOT_ENABLED),
        (text("x" * 6000), ErrorCode.EXCEED_SERVICE_LIMIT),
        (text(""), ErrorCode.MESSAGE_INVALID),
    ],
)
def test_invalid_bodies(body: pb.MessageBody, code: ErrorCode) -> None:
    with pytest.raises(ChatError) as err:
        validate_body(body)
    assert err.value.code is code


def test_acks_need_only_the_message_id() -> None:
    validate_body(pb.MessageBody(type=pb.MessageBody.DELIVER_ACK, ack_message_id=5))


# -- targets: the planner table -------------------------------------------------------------


def group_text(t: str, kind: pb.MessageBody.Type = pb.MessageBody.GROUPCHAT) -> pb.MessageBody:
    body = text(t)
    body.type = kind
    return body


@pytest.mark.parametrize(
    ("kind", "body", "code", "reason"),
    [
        (TargetKind.GROUP, group_text("hi"), ErrorCode.GROUP_NOT_EXIST, "group not found"),
        # what clients were always told, whatever the body
        (
            TargetKind.GROUP,
            pb.MessageBody(type=pb.MessageBody.GROUPCHAT),
            ErrorCode.GROUP_NOT_EXIST,
            "group not found",
        ),
        (
            TargetKind.ROOM,
            group_text("hi", pb.MessageBody.CHATROOM),
            ErrorCode.CHATROOM_NOT_EXIST,
            "grpID 12 does not exist!",
        ),
        (TargetKind.THREAD, group_text("hi"), ErrorCode.THREAD_NOT_EXIST, None),
    ],
)
async def test_a_conversation_that_does_not_exist_is_refused(
    kind: TargetKind, body: pb.MessageBody, code: ErrorCode, reason: str | None
) -> None:
    svc, store, bus = service({"alice", "bob"})  # the wired default: no conversations
    with pytest.raises(ChatError) as err:
        await svc.send(ALICE, Target(kind, "12"), body)
    assert err.value.code is code
    assert reason is None or err.value.description == reason
    assert store.drafts == [] and bus.notices == []


async def test_a_group_name_no_group_can_have_is_an_invalid_id() -> None:
    svc, store, _ = service({"alice"})
    with pytest.raises(ChatError) as err:
        await svc.send(ALICE, Target(TargetKind.GROUP, "g1"), group_text("hi"))
    assert err.value.code is ErrorCode.GROUP_INVALID_ID
    assert store.drafts == []


async def test_a_user_target_is_the_one_to_one_path() -> None:
    svc, store, bus = service({"alice", "bob"})
    await svc.send(ALICE, Target(TargetKind.USER, "bob"), text("hi"))
    assert store.drafts[0].rows == (
        InboxRow("bob-id", "alice"),
        InboxRow("alice-id", "alice", "a1"),
    )
    assert [n.username for n in bus.notices] == ["bob", "alice"]


def with_group(*members: str) -> FakeConversations:
    fake = FakeConversations()
    fake.add(APP.id, TargetKind.GROUP, "g1", {f"{m}-id": m for m in members}, key="group:g1")
    return fake


async def test_a_group_send_is_one_row_in_the_group_queue() -> None:
    presence = Presence()
    presence.online = {"alice", "bob", "dave"}  # carol is offline; dave is not a member
    members = ("alice", "bob", "carol")
    svc, store, bus = service(set(members), conversations=with_group(*members), presence=presence)
    stored = await svc.send(ALICE, Target(TargetKind.GROUP, "g1"), group_text("hi all"))
    (draft,) = store.drafts
    queue = f"g1@{GROUP_DOMAIN}"
    assert draft.rows == (InboxRow("group:g1", queue, "alice-id/a1"),)
    assert (draft.chat_type, draft.recipient) == ("groupchat", "g1")
    assert sorted((n.username, n.queue, n.skip_resource) for n in bus.notices) == [
        ("alice", queue, "a1"),  # her other devices, not the sending one
        ("bob", queue, None),
    ]
    meta = pb.Meta.FromString(draft.encode(stored.id, 5))
    assert (meta.to_jid.name, meta.to_jid.domain) == ("g1", GROUP_DOMAIN)
    inner = decode_payload(pb.MessageBody, meta.payload)
    assert inner.type == pb.MessageBody.GROUPCHAT
    assert (inner.from_jid.name, inner.to_jid.name) == ("alice", "g1")
    assert store.lookups == []  # no user ids resolved for a conversation


async def test_a_group_refuses_non_members_and_foreign_bodies() -> None:
    svc, store, _ = service({"alice"}, conversations=with_group("bob", "carol"))
    with pytest.raises(ChatError) as err:
        await svc.send(ALICE, Target(TargetKind.GROUP, "g1"), group_text("let me in"))
    assert err.value.code is ErrorCode.GROUP_NOT_JOINED
    svc, store, _ = service({"alice"}, conversations=with_group("alice", "bob"))
    with pytest.raises(ChatError) as err:
        await svc.send(ALICE, Target(TargetKind.GROUP, "g1"), text("a chat body"))
    assert err.value.code is ErrorCode.SERVICE_NOT_ENABLED
    assert store.drafts == []


async def test_sync_reads_a_conversation_only_for_members() -> None:
    store = FakeStore(set())
    fake = with_group("alice", "bob")
    sync = SyncService(store, batch_size=10, conversations=fake)  # type: ignore[arg-type]
    queue = f"g1@{GROUP_DOMAIN}"
    assert await sync.pull("bob-id", "b1", queue, 0) == [(1, b"m")]
    assert await sync.pull("mallory-id", "m1", queue, 0) == []
    await sync.ack("bob-id", "b1", queue, 7)
    await sync.ack("mallory-id", "m1", queue, 7)  # not a member: not written
    await sync.pull("bob-id", "b1", "alice", 0)  # a user queue: no lookup, no rows owner
    assert [(q.queue, q.count) for q in await sync.unread("bob-id", "b1")] == [(queue, 1)]
    assert store.reads == [
        ("pull", "bob-id", "b1", queue, "group:g1"),
        ("ack", "bob-id", "b1", queue, 7),
        ("pull", "bob-id", "b1", "alice", None),
        ("unread", "bob-id", "b1", (("group:g1", queue),)),
    ]
