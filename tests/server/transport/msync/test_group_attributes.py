"""Group member attributes as the Web SDK sets and reads them: a member sets its own, the
others (and its other devices) hear GROUP_MEMBER_METADATA_UPDATE with the JSON the SDK
parses, anyone reads ≤ 10 members' at once, they go when the member leaves, and Agora's
size limits hold."""

from __future__ import annotations

import json

import pytest

from kibitz.protocol._msync import pb
from kibitz.server.domain.group_events import EVENT_QUEUE

from .conftest import Gateway
from .test_group_events import events
from .test_group_moderation import group, rest

pytestmark = pytest.mark.anyio


async def test_a_member_sets_its_attributes_and_the_group_hears(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    gid = await group(gateway, alice, "bob")
    a = await gateway.client(alice, "a1")
    b2 = await gateway.client(bob, "b2")
    await rest(
        gateway,
        "PUT",
        f"/sdk/metadata/chatgroup/{gid}/user/bob?resource=b1",
        bob,
        json={"metaData": {"nick": "Bobby", "color": "blue"}},
    )
    for device in (a, b2):  # the other member, and bob's other device
        (update,) = [
            e
            for e in events(await device.pull(EVENT_QUEUE))
            if e.operation == pb.MUCBody.GROUP_MEMBER_METADATA_UPDATE
        ]
        detail = json.loads(update.event_info.ext)
        assert detail == {"username": "bob", "properties": {"nick": "Bobby", "color": "blue"}}
    got = await rest(
        gateway,
        "POST",
        f"/sdk/metadata/chatgroup/{gid}/get",
        alice,
        json={"targets": ["bob", "alice"], "properties": ["nick"]},
    )
    assert got["data"] == {"bob": {"nick": "Bobby"}}
    # "" removes a key; the admin API reads all of one member's
    await rest(
        gateway,
        "PUT",
        f"/metadata/chatgroup/{gid}/user/bob",
        json={"metaData": {"color": ""}},
    )
    one = await rest(gateway, "GET", f"/metadata/chatgroup/{gid}/user/bob")
    assert one["data"] == {"nick": "Bobby"}
    # a plain member cannot set another's; attributes go with the member
    await rest(
        gateway,
        "PUT",
        f"/sdk/metadata/chatgroup/{gid}/user/alice",
        bob,
        status=403,
        json={"metaData": {"nick": "x"}},
    )
    await rest(gateway, "DELETE", f"/chatgroups/{gid}/quit", bob)
    gone = await rest(gateway, "GET", f"/metadata/chatgroup/{gid}/user/bob")
    assert gone["data"] == {}


@pytest.mark.parametrize(
    "values",
    [{"k" * 17: "v"}, {"k": "v" * 513}, {f"k{i}": "v" * 500 for i in range(9)}, {"": "v"}],
)
async def test_attribute_limits(gateway: Gateway, values: dict[str, str]) -> None:
    alice = await gateway.user("alice")
    gid = await group(gateway, alice)
    await rest(
        gateway,
        "PUT",
        f"/sdk/metadata/chatgroup/{gid}/user/alice",
        alice,
        status=400,
        json={"metaData": values},
    )
