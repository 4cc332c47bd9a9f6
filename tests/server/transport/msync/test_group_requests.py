"""Joining by asking, as the Web SDK's users do it over REST and hear it over msync: an
application to an approval group reaches the owner and admins, and its answer the
applicant; an invitation that needs consent reaches the invitee, and its answer the
inviter; only an accepted one makes a member."""

from __future__ import annotations

import pytest

from kibitz.protocol._msync import pb
from kibitz.server.domain.group_events import EVENT_QUEUE

from .conftest import Gateway
from .test_group_events import events
from .test_group_moderation import group, rest

pytestmark = pytest.mark.anyio


def ops(metas: list[pb.Meta]) -> list[int]:
    return [e.operation for e in events(metas)]


async def members(gateway: Gateway, gid: str) -> list[str]:
    listed = await rest(gateway, "GET", f"/chatgroups/{gid}/users")
    return [next(iter(m.values())) for m in listed["data"]]


async def test_an_application_is_asked_and_answered(gateway: Gateway) -> None:
    alice, bob, carol = [await gateway.user(n) for n in ("alice", "bob", "carol")]
    gid = await group(gateway, alice, "bob", public=True, membersonly=True)
    await rest(gateway, "POST", f"/chatgroups/{gid}/admin", alice, json={"newadmin": "bob"})
    a, b = await gateway.client(alice, "a1"), await gateway.client(bob, "b1")
    c = await gateway.client(carol, "c1")
    asked = await rest(
        gateway, "POST", f"/chatgroups/{gid}/apply", carol, json={"message": "let me in"}
    )
    assert asked["data"]["reason"] == "let me in"
    assert await members(gateway, gid) == ["alice", "bob"]  # not yet
    for decider in (a, b):
        (apply,) = [e for e in events(await decider.pull(EVENT_QUEUE)) if e.operation == 4]
        assert apply.from_jid.name == "carol" and apply.reason == "let me in"
    # a plain member cannot answer; the admin can
    await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/apply_verify",
        carol,
        status=403,
        json={"applicant": "carol", "verifyResult": True},
    )
    await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/apply_verify",
        bob,
        json={"applicant": "carol", "verifyResult": True, "reason": "no clue"},
    )
    assert await members(gateway, gid) == ["alice", "bob", "carol"]
    assert pb.MUCBody.APPLY_ACCEPT in ops(await c.pull(EVENT_QUEUE))
    assert pb.MUCBody.PRESENCE in ops(await a.pull(EVENT_QUEUE))
    # answered once: a second answer has nothing to answer
    await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/apply_verify",
        bob,
        status=403,
        json={"applicant": "carol", "verifyResult": True},
    )


async def test_a_declined_application_makes_no_member(gateway: Gateway) -> None:
    alice, dave = await gateway.user("alice"), await gateway.user("dave")
    gid = await group(gateway, alice, public=True, membersonly=True)
    d = await gateway.client(dave, "d1")
    await rest(gateway, "POST", f"/chatgroups/{gid}/apply", dave, json={"message": ""})
    await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/apply_verify",
        alice,
        json={"applicant": "dave", "verifyResult": False, "reason": "full"},
    )
    assert await members(gateway, gid) == ["alice"]
    (declined,) = [e for e in events(await d.pull(EVENT_QUEUE)) if e.operation == 6]
    assert [t.name for t in declined.to] == ["dave"] and declined.reason == "full"


async def test_an_invitation_that_needs_consent(gateway: Gateway) -> None:
    alice, bob, carol = [await gateway.user(n) for n in ("alice", "bob", "carol")]
    gid = await group(gateway, alice, invite_need_confirm=True)
    a, b = await gateway.client(alice, "a1"), await gateway.client(bob, "b1")
    c = await gateway.client(carol, "c1")
    await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/invite",
        alice,
        json={"usernames": ["bob", "carol"]},
    )
    assert await members(gateway, gid) == ["alice"]
    (invited,) = [e for e in events(await b.pull(EVENT_QUEUE)) if e.operation == 7]
    assert invited.from_jid.name == "alice" and invited.muc_name == "mod"
    await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/invite_verify",
        bob,
        json={"invitee": "bob", "verifyResult": True},
    )
    await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/invite_verify",
        carol,
        json={"invitee": "carol", "verifyResult": False},
    )
    assert await members(gateway, gid) == ["alice", "bob"]
    got = ops(await a.pull(EVENT_QUEUE))
    assert pb.MUCBody.INVITE_ACCEPT in got and pb.MUCBody.INVITE_DECLINE in got
    # nothing pending any more, and nobody answers for someone else
    await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/invite_verify",
        carol,
        status=403,
        json={"invitee": "carol", "verifyResult": True},
    )
    await rest(
        gateway,
        "POST",
        f"/chatgroups/{gid}/invite_verify",
        carol,
        status=400,
        json={"invitee": "bob", "verifyResult": True},
    )
    assert ops(await c.pull(EVENT_QUEUE)) == [pb.MUCBody.INVITE]
