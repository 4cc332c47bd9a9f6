"""Moderation as members feel it: a muted member's send is refused (USER_MUTED, the Web
SDK's "user is mute"), until the mute expires or is lifted; mute-all lets only the owner,
admins and the allow list post; a blocked user is removed and cannot come back; a disabled
group takes no messages. Driven over REST as the app or the owner, felt over msync."""

from __future__ import annotations

from typing import Any

import pytest

from kibitz.protocol._msync import GROUP_DOMAIN, pb
from kibitz.server.domain.group_events import EVENT_QUEUE

from ..rest.support import FakeClock, bearer
from .conftest import Gateway, GatewayFactory
from .test_conversations import pull_group, send_to, typed
from .test_group_events import events
from .test_groups import unread

pytestmark = pytest.mark.anyio


async def rest(
    gateway: Gateway, method: str, path: str, user: Any = None, status: int = 200, **kw: Any
) -> Any:
    h = gateway.harness
    headers = bearer(gateway.token(user)) if user is not None else h.admin_headers()
    response = await h.http.request(method, h.base + path, headers=headers, **kw)
    assert response.status_code == status, response.text
    return response.json()


async def group(gateway: Gateway, owner: Any, *members: str, **body: Any) -> str:
    created = await rest(
        gateway,
        "POST",
        "/chatgroups",
        owner,
        json={"groupname": "mod", "members": list(members), **body},
    )
    gid: str = created["data"]["groupid"]
    return gid


def status(ack: pb.CommSyncDL) -> tuple[int, str]:
    return ack.status.error_code, ack.status.reason


async def test_a_muted_member_cannot_post_until_the_mute_ends(
    gateway_factory: GatewayFactory,
) -> None:
    clock = FakeClock()
    gateway = await gateway_factory(clock=clock)
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    gid = await group(gateway, alice, "bob")
    b = await gateway.client(bob, "b1")
    muted = await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/mute",
        alice,
        json={"usernames": ["bob"], "mute_duration": 60_000},
    )
    (item,) = muted["data"]
    assert item["user"] == "bob" and item["expire"] == clock.now + 60_000
    body = typed(pb.MessageBody.GROUPCHAT, gid)
    assert status(await send_to(b, gid, body)) == (pb.Status.PERMISSION_DENIED, "user is mute")
    listed = await rest(gateway, "GET", f"/chatgroups/{gid}/mute", bob)
    assert [m["user"] for m in listed["data"]] == ["bob"]
    mine = await rest(gateway, "GET", f"/sdk/chatgroups/{gid}/mute/bob", bob)
    assert mine["data"] is True
    add_mute = [e for e in events(await b.pull(EVENT_QUEUE)) if e.operation == pb.MUCBody.ADD_MUTE]
    assert add_mute and '"bob"' in add_mute[0].ext
    clock.advance(61)
    assert status(await send_to(b, gid, body)) == (pb.Status.OK, "")
    # muted again, then lifted by the app
    await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/mute",
        json={"usernames": "bob", "mute_duration": -1},
    )
    assert status(await send_to(b, gid, body))[0] == pb.Status.PERMISSION_DENIED
    await rest(gateway, "DELETE", f"/chatgroups/{gid}/mute/bob")
    assert status(await send_to(b, gid, body)) == (pb.Status.OK, "")


async def test_mute_all_lets_the_owner_admins_and_the_allow_list_post(gateway: Gateway) -> None:
    alice, bob, carol, dave = [await gateway.user(n) for n in ("alice", "bob", "carol", "dave")]
    gid = await group(gateway, alice, "bob", "carol", "dave")
    await rest(gateway, "POST", f"/chatgroups/{gid}/admin", alice, json={"newadmin": "carol"})
    await rest(gateway, "POST", f"/chatgroups/{gid}/ban", alice)
    allowed = await rest(
        gateway, "POST", f"/chatgroups/{gid}/white/users", alice, json={"usernames": ["dave"]}
    )
    assert [i["user"] for i in allowed["data"]] == ["dave"]
    body = typed(pb.MessageBody.GROUPCHAT, gid)
    for user in (alice, carol, dave):
        c = await gateway.client(user)
        assert status(await send_to(c, gid, body)) == (pb.Status.OK, ""), user.username
    b = await gateway.client(bob)
    refused = (pb.Status.FAIL, "not in group or chatroom white list")
    assert status(await send_to(b, gid, body)) == refused
    listed = await rest(gateway, "GET", f"/chatgroups/{gid}/white/users", bob)
    assert listed["data"] == ["dave"]
    await rest(gateway, "DELETE", f"/chatgroups/{gid}/ban", alice)
    assert status(await send_to(b, gid, body)) == (pb.Status.OK, "")


async def test_a_blocked_user_is_removed_and_cannot_come_back(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    gid = await group(gateway, alice, "bob", public=True)
    b = await gateway.client(bob, "b1")
    blocked = await rest(gateway, "POST", f"/chatgroups/{gid}/blocks/users/bob", alice)
    assert blocked["data"][0]["user"] == "bob"
    ops = [e.operation for e in events(await b.pull(EVENT_QUEUE))]
    assert pb.MUCBody.KICK in ops
    denied = await rest(gateway, "POST", f"/chatgroups/{gid}/apply", bob, status=403, json={})
    assert "is in the blacklist" in denied["error_description"]
    await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/users",
        alice,
        status=403,
        json={"usernames": ["bob"]},
    )
    assert (await rest(gateway, "GET", f"/chatgroups/{gid}/blocks/users", alice))["data"] == ["bob"]
    await rest(gateway, "DELETE", f"/chatgroups/{gid}/blocks/users/bob", alice)
    await rest(gateway, "POST", f"/chatgroups/{gid}/apply", bob, json={})
    # the owner cannot be blocked, nor can a member block anyone
    await rest(gateway, "POST", f"/chatgroups/{gid}/blocks/users/alice", status=403)
    await rest(gateway, "POST", f"/chatgroups/{gid}/blocks/users/alice", bob, status=403)


async def test_a_disabled_group_takes_no_messages_and_the_announcement(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    gid = await group(gateway, alice, "bob")
    a = await gateway.client(alice)
    off = await rest(gateway, "POST", f"/chatgroups/{gid}/disable")
    assert off["data"] == {"disabled": True}
    ack = await send_to(a, gid, typed(pb.MessageBody.GROUPCHAT, gid))
    assert status(ack) == (
        pb.Status.FAIL,
        "can not operate this group, reason: group is disabled",
    )
    await rest(gateway, "POST", f"/chatgroups/{gid}/disable", alice, status=401)  # app only
    await rest(gateway, "POST", f"/chatgroups/{gid}/enable")
    assert status(await send_to(a, gid, typed(pb.MessageBody.GROUPCHAT, gid)))[0] == 0
    await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/announcement",
        alice,
        json={"announcement": "be kind"},
    )
    got = await rest(gateway, "GET", f"/chatgroups/{gid}/announcement", bob)
    assert got["data"] == {"announcement": "be kind"}
    b = await gateway.client(bob)
    (ann,) = [
        e
        for e in events(await b.pull(EVENT_QUEUE))
        if e.operation == pb.MUCBody.UPDATE_ANNOUNCEMENT
    ]
    assert ann.reason == "be kind"
    await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/announcement",
        bob,
        status=403,
        json={"announcement": "mine now"},
    )
    await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/announcement",
        alice,
        status=400,
        json={"announcement": "x" * 513},
    )


async def test_a_member_who_shields_a_group_is_not_told_of_its_messages(
    gateway: Gateway,
) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    gid = await group(gateway, alice, "bob")
    a, b = await gateway.client(alice, "a1"), await gateway.client(bob, "b1")
    await rest(gateway, "POST", f"/chatgroups/{gid}/shield?version=v3", bob)
    body = typed(pb.MessageBody.GROUPCHAT, gid)
    assert status(await send_to(a, gid, body)) == (pb.Status.OK, "")
    b2 = await gateway.client(bob, "b2")  # a fresh login: UNREAD leaves the group out
    assert (gid, GROUP_DOMAIN) not in await unread(b2)
    assert (gid, GROUP_DOMAIN) not in await unread(b)  # frames before it are buffered
    assert not [f for f in b.buffer if f.msync.command == pb.MSync.NOTICE]
    # resuming: told of new messages again, and what was said meanwhile is not waiting
    await rest(gateway, "DELETE", f"/chatgroups/{gid}/shield?version=v3", bob)
    after = await send_to(a, gid, body)
    notice = await b.notice()
    assert notice.queue.name == gid
    assert [m.id for m in (await pull_group(b, gid)).metas] == [after.server_id]
    # only members shield
    carol = await gateway.user("carol")
    await rest(gateway, "POST", f"/chatgroups/{gid}/shield", carol, status=403)
