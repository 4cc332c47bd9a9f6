"""A member away from a busy group gets only its last messages on login: the app's
``group_offline_messages`` (Agora: 200), in order; a member online all along misses none."""

from __future__ import annotations

import pytest

from kibitz.protocol._msync import GROUP_DOMAIN, pb

from .client import body_text
from .conftest import Gateway
from .test_conversations import pull_group, send_to
from .test_group_moderation import group, rest
from .test_groups import unread

pytestmark = pytest.mark.anyio


def text(group_id: str, words: str) -> pb.MessageBody:
    body = pb.MessageBody(type=pb.MessageBody.GROUPCHAT)
    body.to_jid.name = group_id
    body.contents.add(type=pb.MessageBody.Content.TEXT, text=words)
    return body


async def test_an_offline_member_gets_the_last_n_in_order(gateway: Gateway) -> None:
    await rest(gateway, "PUT", "/settings", json={"group_offline_messages": 3})
    alice, bob, carol = [await gateway.user(n) for n in ("alice", "bob", "carol")]
    gid = await group(gateway, alice, "bob", "carol")
    c = await gateway.client(carol, "c1")  # online throughout
    b = await gateway.client(bob, "b1")
    await b.close()
    a = await gateway.client(alice, "a1")
    for n in range(5):
        ack = await send_to(a, gid, text(gid, f"m{n}"))
        assert ack.status.error_code == pb.Status.OK
    b = await gateway.client(bob, "b1")
    assert (await unread(b))[(gid, GROUP_DOMAIN)] == 3
    assert [body_text(m) for m in (await pull_group(b, gid)).metas] == ["m2", "m3", "m4"]
    assert [body_text(m) for m in (await pull_group(c, gid)).metas] == [f"m{n}" for n in range(5)]


async def test_a_device_away_for_fewer_messages_loses_none(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    gid = await group(gateway, alice, "bob")
    b = await gateway.client(bob, "b1")
    await b.close()
    a = await gateway.client(alice, "a1")
    for n in range(4):
        await send_to(a, gid, text(gid, f"m{n}"))
    b = await gateway.client(bob, "b1")
    assert [body_text(m) for m in (await pull_group(b, gid)).metas] == [f"m{n}" for n in range(4)]
