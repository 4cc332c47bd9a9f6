"""Group events reach users as the Web SDK reads them: a ``Meta{ns=MUC}`` with a
``MUCBody`` (mucId, operation, from, to), announced by a NOTICE and pulled from the user's
own queue of group events — also by users who are not (or no longer) members — and
never to the device that acted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kibitz.protocol._msync import GROUP_DOMAIN, decode_payload, pb
from kibitz.server.domain.group_events import EVENT_QUEUE

from ..rest.support import bearer
from .client import MsyncClient
from .conftest import Gateway

pytestmark = pytest.mark.anyio


def events(metas: list[pb.Meta]) -> list[pb.MUCBody]:
    assert all(m.ns == pb.Meta.MUC for m in metas)
    return [decode_payload(pb.MUCBody, m.payload) for m in metas]


async def rest(gateway: Gateway, method: str, path: str, user: Any, **kw: Any) -> Any:
    h = gateway.harness
    token = gateway.token(user)
    response = await h.http.request(method, h.base + path, headers=bearer(token), **kw)
    assert response.status_code == 200, response.text
    return response.json()


async def test_create_kick_and_leave_tell_the_right_people(gateway: Gateway) -> None:
    alice, bob, carol = [await gateway.user(n) for n in ("alice", "bob", "carol")]
    b = await gateway.client(bob, "b1")
    created = await rest(
        gateway,
        "POST",
        "/chatgroups?resource=a1",
        alice,
        json={"groupname": "team", "members": ["bob", "carol"]},
    )
    gid = created["data"]["groupid"]
    notice = await b.notice()
    assert (notice.queue.name, notice.queue.domain or "easemob.com") == (
        EVENT_QUEUE,
        "easemob.com",
    )
    (joined,) = events(await b.pull(EVENT_QUEUE))
    assert joined.operation == pb.MUCBody.DIRECT_JOINED
    assert (joined.muc_id.name, joined.muc_id.domain) == (gid, GROUP_DOMAIN)
    assert joined.from_jid.name == "alice" and [t.name for t in joined.to] == ["bob"]
    assert joined.muc_name == "team"
    # alice removes bob: bob hears KICK, carol (offline) finds ABSENCE waiting
    await rest(gateway, "DELETE", f"/chatgroups/{gid}/users/bob?resource=a1", alice)
    (kick,) = events(await b.pull(EVENT_QUEUE))
    assert kick.operation == pb.MUCBody.KICK and [t.name for t in kick.to] == ["bob"]
    c = await gateway.client(carol, "c1")
    ops = [e.operation for e in events(await c.pull(EVENT_QUEUE))]
    assert ops == [pb.MUCBody.DIRECT_JOINED, pb.MUCBody.ABSENCE]


async def test_the_acting_device_is_skipped_and_the_actors_others_are_told(
    gateway: Gateway,
) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    a1: MsyncClient = await gateway.client(alice, "a1")
    a2: MsyncClient = await gateway.client(alice, "a2")
    created = await rest(
        gateway,
        "POST",
        "/chatgroups?resource=a1",
        alice,
        json={"groupname": "team", "members": ["bob"]},
    )
    gid = created["data"]["groupid"]
    (create,) = events(await a2.pull(EVENT_QUEUE))
    assert create.operation == pb.MUCBody.CREATE and create.from_jid.name == "alice"
    assert not await a1.pull(EVENT_QUEUE)  # the device that created it
    await rest(
        gateway, "PUT", f"/chatgroups/{gid}?resource=a1", alice, json={"groupname": "renamed"}
    )
    (update,) = events(await a2.pull(EVENT_QUEUE))
    assert update.operation == pb.MUCBody.UPDATE
    detail = json.loads(update.event_info.ext)
    assert detail["name"] == "renamed" and isinstance(detail["last_modified"], int)
    assert all(b >= 0x10 for b in update.event_info.ext.encode())
    b = await gateway.client(bob, "b1")
    ops = [e.operation for e in events(await b.pull(EVENT_QUEUE))]
    assert ops == [pb.MUCBody.DIRECT_JOINED, pb.MUCBody.UPDATE]


async def test_joining_and_destroying(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    created = await rest(
        gateway, "POST", "/chatgroups", alice, json={"groupname": "open", "public": True}
    )
    gid = created["data"]["groupid"]
    a = await gateway.client(alice, "a1")
    await rest(gateway, "POST", f"/chatgroups/{gid}/apply?resource=b1", bob, json={})
    presence = [e for e in events(await a.pull(EVENT_QUEUE)) if e.operation == pb.MUCBody.PRESENCE]
    assert [(p.from_jid.name, p.muc_member_count) for p in presence] == [("bob", 2)]
    await rest(gateway, "DELETE", f"/chatgroups/{gid}?resource=a1", alice)
    b = await gateway.client(bob, "b9")
    (destroy,) = [e for e in events(await b.pull(EVENT_QUEUE)) if e.operation == pb.MUCBody.DESTROY]
    assert destroy.muc_id.name == gid


async def test_deleting_an_owner_destroys_its_groups_and_tells_the_members(
    gateway: Gateway,
) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    await gateway.user("carol")
    h = gateway.harness
    owned = await rest(
        gateway, "POST", "/chatgroups", alice, json={"groupname": "mine", "members": ["bob"]}
    )
    gid = owned["data"]["groupid"]
    theirs = await rest(
        gateway, "POST", "/chatgroups", bob, json={"groupname": "bobs", "members": ["alice"]}
    )
    other = theirs["data"]["groupid"]
    gone = await h.http.delete(f"{h.base}/users/alice", headers=h.admin_headers())
    assert gone.status_code == 200, gone.text
    b = await gateway.client(bob, "b1")
    destroyed = [e for e in events(await b.pull(EVENT_QUEUE)) if e.operation == pb.MUCBody.DESTROY]
    assert [e.muc_id.name for e in destroyed] == [gid]
    missing = await h.http.get(f"{h.base}/chatgroups/{gid}", headers=h.admin_headers())
    assert missing.status_code == 404, missing.text
    kept = await h.http.get(f"{h.base}/chatgroups/{other}/users", headers=h.admin_headers())
    assert [m.get("owner") or m.get("member") for m in kept.json()["data"]] == ["bob"]
