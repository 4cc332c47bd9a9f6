"""The messaging domain with fakes: validation, results per recipient, the inbox rows it
asks the store for, who is notified, its id cache and device counts."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import Content, ContentKind, content_to_pb, decode_payload, pb
from kibitz.server.domain.messaging import (
    Draft,
    InboxRow,
    MessagingService,
    Notice,
    Registered,
    Sender,
    Stored,
    validate_body,
)
from kibitz.server.domain.models import App
from kibitz.server.domain.sync import SyncService

pytestmark = pytest.mark.anyio

APP = App("app-1", "acme", "chat", "cid", "sec", "a" * 32, "b" * 32, "tok", 4, 0)


class FakeStore:
    def __init__(self, known: set[str]) -> None:
        self.known = {name: f"{name}-id" for name in known}
        self.drafts: list[Draft] = []
        self.lookups: list[list[str]] = []
        self.fail_owners: set[str] = set()
        self.devices = 1

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


class FakeBus:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    async def publish(self, notices: Sequence[Notice]) -> None:
        self.notices.extend(notices)


class Presence:
    async def online_users(self, app_pk: str, usernames: Sequence[str]) -> set[str]:
        return {"bob"} & set(usernames)

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
    known: set[str], *, shared: bool = False, max_cached: int = 100
) -> tuple[MessagingService, FakeStore, FakeBus]:
    store, bus = FakeStore(known), FakeBus()
    svc = MessagingService(
        store,  # type: ignore[arg-type]
        bus,
        Presence(),
        Clock(),
        shared=shared,
        max_cached=max_cached,
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
