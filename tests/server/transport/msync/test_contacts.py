"""Contact events reach users as the Web SDK reads them — a ``Meta{ns=ROSTER}`` with a
``RosterBody`` (operation, from = the other party, to = the receiver), announced by a NOTICE
and pulled from the user's own ``contacts#events`` queue, also at a later login — and the
sends a block list or ``contacts_only`` refuses are answered as the SDK expects and never
stored for the recipient."""

from __future__ import annotations

from typing import Any

import pytest

from kibitz.protocol._msync import decode_payload, pb
from kibitz.server.domain.contact_models import ROSTER_QUEUE

from ..rest.support import bearer
from .client import MsyncClient, body_text
from .conftest import Gateway

pytestmark = pytest.mark.anyio

R = pb.RosterBody


def roster(metas: list[pb.Meta]) -> list[tuple[int, str, list[str], str]]:
    """(operation, from, to, reason) of each pulled ROSTER meta, checking Meta.from too."""
    out = []
    for m in metas:
        assert m.ns == pb.Meta.ROSTER
        body = decode_payload(pb.RosterBody, m.payload)
        assert m.from_jid.name == body.from_jid.name and m.id
        out.append((body.operation, body.from_jid.name, [t.name for t in body.to], body.reason))
    return out


async def rest(gateway: Gateway, method: str, path: str, user: Any, **kw: Any) -> Any:
    h = gateway.harness
    response = await h.http.request(
        method, h.base + path, headers=bearer(gateway.token(user)), **kw
    )
    assert response.status_code == 200, response.text
    return response.json()


async def pull_events(c: MsyncClient) -> list[tuple[int, str, list[str], str]]:
    notice = await c.notice()
    assert notice.queue.name == ROSTER_QUEUE
    return roster(await c.pull(ROSTER_QUEUE))


async def test_request_waits_for_login_then_accept_tells_both(gateway: Gateway) -> None:
    alice, bob = [await gateway.user(n) for n in ("alice", "bob")]
    a1 = await gateway.client(alice, "a1")
    a2 = await gateway.client(alice, "a2")
    await rest(
        gateway,
        "POST",
        "/users/alice/contacts/apply?resource=a1",
        alice,
        json={"usernames": ["bob"], "reason": "hi, it's alice"},
    )
    b = await gateway.client(bob, "b1")  # offline at the request: it is waiting
    assert (await b.unread()).get(ROSTER_QUEUE) == 1
    assert roster(await b.pull(ROSTER_QUEUE)) == [(R.ADD, "alice", ["bob"], "hi, it's alice")]
    b2 = await gateway.client(bob, "b2")

    await rest(gateway, "POST", "/users/bob/contacts/accept/users/alice?resource=b1", bob)
    # alice (both devices): REMOTE_ACCEPT (onContactAgreed) and ACCEPT (onContactAdded)
    for c in (a1, a2):
        assert await pull_events(c) == [
            (R.REMOTE_ACCEPT, "bob", ["alice"], ""),
            (R.ACCEPT, "bob", ["alice"], ""),
        ]
    assert await pull_events(b2) == [(R.ACCEPT, "alice", ["bob"], "")]  # bob's other device
    assert roster(await b.pull(ROSTER_QUEUE)) == []  # the accepting device: nothing

    # bob deletes alice: alice hears REMOVE, and so does bob's other device
    await rest(gateway, "DELETE", "/users/bob/contacts/users/alice?resource=b1", bob)
    assert await pull_events(a1) == [(R.REMOVE, "bob", ["alice"], "")]
    assert await pull_events(b2) == [(R.REMOVE, "alice", ["bob"], "")]


async def test_decline_tells_the_requester(gateway: Gateway) -> None:
    alice, bob = [await gateway.user(n) for n in ("alice", "bob")]
    a = await gateway.client(alice, "a1")
    b2 = await gateway.client(bob, "b2")
    await rest(gateway, "POST", "/users/alice/contacts/apply", alice, json={"usernames": ["bob"]})
    assert await pull_events(b2) == [(R.ADD, "alice", ["bob"], "")]
    await rest(gateway, "POST", "/users/bob/contacts/decline/users/alice?resource=b1", bob)
    assert await pull_events(a) == [(R.REMOTE_DECLINE, "bob", ["alice"], "")]
    assert await pull_events(b2) == [(R.DECLINE, "alice", ["bob"], "")]


async def test_blocked_sender_is_refused_and_nothing_is_stored(gateway: Gateway) -> None:
    alice, bob = [await gateway.user(n) for n in ("alice", "bob")]
    a = await gateway.client(alice, "a1")
    b = await gateway.client(bob, "b1")
    await rest(gateway, "POST", "/sdk/user/bob/blocks", bob, json={"usernames": ["alice"]})
    ack = await a.send_text("bob", "let me in")
    assert (ack.status.error_code, ack.status.reason) == (pb.Status.FAIL, "blocked")
    assert ROSTER_QUEUE not in await b.unread() and "alice" not in await b.unread()
    ack = await b.send_text("alice", "bob may still write")  # one way only
    assert ack.status.error_code == pb.Status.OK
    await rest(gateway, "DELETE", "/sdk/user/bob/blocks", bob, json={"usernames": ["alice"]})
    ack = await a.send_text("bob", "thanks")
    assert ack.status.error_code == pb.Status.OK
    assert [body_text(m) for m in await b.pull("alice")] == ["thanks"]  # not the refused one


async def test_contacts_only_refuses_strangers(gateway: Gateway) -> None:
    alice, _, carol = [await gateway.user(n) for n in ("alice", "bob", "carol")]
    await gateway.services.app_settings.update(gateway.harness.app.id, {"contacts_only": True})
    admin = gateway.harness.admin_headers()
    response = await gateway.harness.http.post(
        f"{gateway.harness.base}/users/alice/contacts/users/bob", headers=admin
    )
    assert response.status_code == 200, response.text
    a = await gateway.client(alice, "a1")
    assert (await a.send_text("bob", "friend")).status.error_code == pb.Status.OK
    ack = await a.send_text("carol", "stranger")
    assert (ack.status.error_code, ack.status.reason) == (pb.Status.FAIL, "nonroster")
    c = await gateway.client(carol, "c1")
    assert "alice" not in await c.unread()


async def test_the_apps_own_sends_are_not_refused(gateway: Gateway) -> None:
    """A REST send (the server API, no device) is the app's word: neither a block list nor
    contacts_only refuses it."""
    _, bob = [await gateway.user(n) for n in ("alice", "bob")]
    await rest(gateway, "POST", "/sdk/user/bob/blocks", bob, json={"usernames": ["alice"]})
    await gateway.services.app_settings.update(gateway.harness.app.id, {"contacts_only": True})
    h = gateway.harness
    body = {"from": "alice", "to": ["bob"], "type": "txt", "body": {"msg": "from the app"}}
    response = await h.http.post(f"{h.base}/messages/users", json=body, headers=h.admin_headers())
    assert response.status_code == 200, response.text
    b = await gateway.client(bob, "b1")
    assert [body_text(m) for m in await b.pull("alice")] == ["from the app"]
