"""Contacts through the Python SDK against a real ``kibitz serve``: requests and answers with
the events each side hears (also a request waiting for a later login), lists and remarks, the
block list and the sends it refuses, and every code a refusal carries."""

from __future__ import annotations

import pytest

from kibitz import (
    AdminClient,
    ChatClient,
    ChatError,
    ChatMessage,
    Contact,
    ContactEvent,
    ErrorCode,
)
from tests.sdk.conftest import Clients, Live, Recorder, fresh

pytestmark = pytest.mark.anyio


class ContactRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.contact_events: list[ContactEvent] = []

    def on_contact_event(self, event: ContactEvent) -> None:
        self.contact_events.append(event)
        self._note()

    def seen(self) -> list[tuple[str, str]]:
        return [(e.operation, e.user) for e in self.contact_events]

    async def heard(self, operation: str, user: str) -> ContactEvent:
        await self.until(lambda: (operation, user) in self.seen())
        return next(e for e in self.contact_events if (e.operation, e.user) == (operation, user))


async def users(admin: AdminClient, *roles: str) -> list[str]:
    names = [fresh(r) for r in roles]
    await admin.register_users([(n, "pw") for n in names])
    return names


async def login(clients: Clients, live: Live, user: str) -> tuple[ChatClient, ContactRecorder]:
    client, _ = clients.new(live.chat)
    rec = ContactRecorder()
    client.chat.add_message_listener(rec)
    client.contacts.add_contact_listener(rec)
    await client.login(user, password="pw")
    return client, rec


async def code_of(call: object) -> ErrorCode:
    with pytest.raises(ChatError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code


async def test_request_accept_decline_delete(
    live: Live, clients: Clients, admin: AdminClient
) -> None:
    alice, bob, carol = await users(admin, "alice", "bob", "carol")
    a, a_rec = await login(clients, live, alice)
    await a.contacts.add_contact(bob, "hi, it's alice")  # bob is offline
    b, b_rec = await login(clients, live, bob)
    invited = await b_rec.heard("contactInvited", alice)
    assert invited.reason == "hi, it's alice" and invited.event_id.isdigit()
    await b.contacts.accept(alice)
    await a_rec.heard("contactAgreed", bob)
    await a_rec.heard("contactAdded", bob)
    assert await a.contacts.contacts() == [bob] and await b.contacts.contacts() == [alice]

    await a.contacts.set_remark(bob, "Bobby")
    assert await a.contacts.all_contacts() == [Contact(bob, "Bobby")]
    page, cursor = await a.contacts.contacts_page(page_size=1)
    assert page == [Contact(bob, "Bobby")] and cursor is None

    c, c_rec = await login(clients, live, carol)
    await c.contacts.add_contact(alice)
    await a_rec.heard("contactInvited", carol)
    await a.contacts.decline(carol)
    refused = await c_rec.heard("contactRefuse", alice)
    assert refused.code == 9  # REMOTE_DECLINE

    await b.contacts.delete(alice)
    await a_rec.heard("contactDeleted", bob)
    assert await a.contacts.contacts() == []


async def test_block_list_and_refused_sends(
    live: Live, clients: Clients, admin: AdminClient
) -> None:
    alice, bob = await users(admin, "alice", "bob")
    a, _ = await login(clients, live, alice)
    b, b_rec = await login(clients, live, bob)
    assert await b.contacts.block([alice]) == [alice]
    assert await b.contacts.block_list() == [alice]
    assert await code_of(a.chat.send_message(ChatMessage.text(bob, "hi"))) == (
        ErrorCode.USER_PERMISSION_DENIED
    )
    assert await code_of(a.contacts.add_contact(bob)) == ErrorCode.USER_PERMISSION_DENIED
    await b.contacts.unblock([alice])
    await a.chat.send_message(ChatMessage.text(bob, "after"))
    await b_rec.until(lambda: "after" in b_rec.texts)
    assert b_rec.texts == ["after"]  # the refused one was never stored


async def test_refusals_carry_their_codes(live: Live, clients: Clients, admin: AdminClient) -> None:
    alice, bob, carol = await users(admin, "alice", "bob", "carol")
    a, _ = await login(clients, live, alice)
    b, _ = await login(clients, live, bob)
    c, _ = await login(clients, live, carol)
    cs = a.contacts
    assert await code_of(cs.add_contact(alice)) == ErrorCode.CONTACT_ADD_FAILED
    assert await code_of(cs.add_contact("nobody-here")) == ErrorCode.USER_NOT_FOUND
    assert await code_of(cs.accept(bob)) == ErrorCode.CONTACT_ADD_FAILED  # nothing to accept
    await cs.add_contact(bob)
    assert await code_of(cs.add_contact(bob)) == ErrorCode.CONTACT_ADD_FAILED  # pending
    assert await code_of(cs.set_remark(bob, "not yet")) == ErrorCode.USER_NOT_FRIEND
    assert await code_of(cs.delete(bob)) == ErrorCode.USER_NOT_FRIEND
    await b.contacts.accept(alice)
    assert await code_of(cs.add_contact(bob)) == ErrorCode.CONTACT_ADD_FAILED  # a contact
    assert await code_of(cs.set_remark(bob, "x" * 101)) == ErrorCode.EXCEED_SERVICE_LIMIT
    # the app's limit of one contact each: my list full, then theirs
    await admin._call("PUT", "/settings", json={"contacts_per_user": 1})
    try:
        assert await code_of(cs.add_contact(carol)) == ErrorCode.CONTACT_REACH_LIMIT
        assert await code_of(c.contacts.add_contact(alice)) == ErrorCode.CONTACT_REACH_LIMIT_PEER
    finally:
        await admin._call("PUT", "/settings", json={"contacts_per_user": 10_000})
    # contacts only: a stranger is refused, a contact is not
    await admin._call("PUT", "/settings", json={"contacts_only": True})
    try:
        assert await code_of(a.chat.send_message(ChatMessage.text(carol, "hi"))) == (
            ErrorCode.USER_NOT_FRIEND
        )
        await a.chat.send_message(ChatMessage.text(bob, "hi"))
    finally:
        await admin._call("PUT", "/settings", json={"contacts_only": False})
