"""The messaging domain with fakes: validation, results per recipient, who is notified."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import Content, ContentKind, content_to_pb, decode_payload, pb
from kibitz.server.domain.messaging import (
    Draft,
    MessagingService,
    Notice,
    Sender,
    Stored,
    validate_body,
)
from kibitz.server.domain.models import App

pytestmark = pytest.mark.anyio

APP = App("app-1", "acme", "chat", "cid", "sec", "a" * 32, "b" * 32, "tok", 4, 0)


class FakeStore:
    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.drafts: list[Draft] = []

    async def append(self, drafts: Sequence[Draft]) -> list[Stored | None]:
        out: list[Stored | None] = []
        for d in drafts:
            self.drafts.append(d)
            ok = d.recipient in self.known or not d.require_recipient
            out.append(Stored(len(self.drafts), 1000) if ok else None)
        return out


class FakeBus:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    async def publish(self, notices: Sequence[Notice]) -> None:
        self.notices.extend(notices)


class Presence:
    def online_users(self, app_pk: str, usernames: Sequence[str]) -> set[str]:
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


def service(known: set[str]) -> tuple[MessagingService, FakeStore, FakeBus]:
    store, bus = FakeStore(known), FakeBus()
    return MessagingService(store, bus, Presence(), Clock()), store, bus  # type: ignore[arg-type]


async def test_results_per_recipient_and_notices() -> None:
    svc, store, bus = service({"bob"})
    sender = Sender(APP, "alice", "alice-id", "a1")
    results = await svc.send_many(sender, ["bob", "nobody", "Bad!"], text("hi"))
    assert isinstance(results[0], Stored)
    assert isinstance(results[1], ChatError) and results[1].code is ErrorCode.USER_NOT_FOUND
    assert results[1].description == "username nobody doesn't exist!"
    assert isinstance(results[2], ChatError)
    assert [d.recipient for d in store.drafts] == ["bob", "nobody"]
    assert [(n.username, n.queue, n.queue_resource, n.skip_resource) for n in bus.notices] == [
        ("bob", "alice", "", None),
        ("alice", "alice", "a1", "a1"),
    ]


async def test_the_stored_meta_names_the_session_sender() -> None:
    svc, store, _ = service({"bob"})
    body = text("hi")
    body.from_jid.name = "mallory"
    await svc.send(Sender(APP, "alice", "alice-id", "a1"), "bob", body)
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
    svc, store, bus = service(set())
    rest = Sender(APP, "admin", None)
    results = await svc.send_many(
        rest, ["bob", "carol"], text("x"), online_only=True, unknown_ok=True
    )
    assert all(isinstance(r, Stored) for r in results)
    assert [d.recipient_inbox for d in store.drafts] == [True, False]
    assert [n.username for n in bus.notices] == ["bob"]  # admin has no devices


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
