"""Contacts on two real nodes, one PostgreSQL, one Redis: a request made through one node
reaches the invitee on the other, its answer comes back; a block made on one node holds
for sends on the other (each node's memory of block lists is forgotten over the bus)."""

from __future__ import annotations

import asyncio

import pytest

from kibitz.protocol._msync import pb
from kibitz.server.domain.contact_models import ROSTER_QUEUE
from tests.server.transport.msync.client import MsyncClient

from .conftest import Cluster
from .support import client, token, users

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def roster(c: MsyncClient) -> list[tuple[int, str]]:
    """(operation, from) of the ROSTER metas the next notice announces."""
    notice = await c.notice()
    assert notice.queue.name == ROSTER_QUEUE
    out = []
    for m in await c.pull(ROSTER_QUEUE):
        assert m.ns == pb.Meta.ROSTER
        body = pb.RosterBody.FromString(m.payload)
        out.append((int(body.operation), body.from_jid.name))
    return out


async def test_a_contact_request_across_nodes(cluster: Cluster) -> None:
    u = users(cluster, "alice", "bob")
    alice, bob = u["alice"], u["bob"]
    async with client(cluster, 0, alice, "web") as a, client(cluster, 1, bob, "web") as b:
        reply = cluster.rest(
            0,
            "POST",
            f"/acme/chat/users/{alice}/contacts/apply?resource=web",
            token=token(cluster, 0, alice),
            json={"usernames": [bob], "reason": "across"},
        )
        assert reply.status_code == 200, reply.text
        assert await roster(b) == [(pb.RosterBody.ADD, alice)]
        reply = cluster.rest(
            1,
            "POST",
            f"/acme/chat/users/{bob}/contacts/accept/users/{alice}?resource=web",
            token=token(cluster, 1, bob),
        )
        assert reply.status_code == 200, reply.text
        assert await roster(a) == [
            (pb.RosterBody.REMOTE_ACCEPT, bob),
            (pb.RosterBody.ACCEPT, bob),
        ]
        listed = cluster.rest(0, "GET", f"/acme/chat/users/{alice}/contacts/users")
        assert listed.json()["data"] == [bob]


async def test_a_block_on_one_node_holds_on_the_other(cluster: Cluster) -> None:
    u = users(cluster, "alice", "bob")
    alice, bob = u["alice"], u["bob"]
    async with client(cluster, 0, alice, "web") as a:
        assert (await a.send_text(bob, "hi")).status.error_code == pb.Status.OK  # remembered
        reply = cluster.rest(
            1, "POST", f"/acme/chat/users/{bob}/blocks/users", json={"usernames": [alice]}
        )
        assert reply.status_code == 200, reply.text
        accepted = 0
        async with asyncio.timeout(10):  # each try is a round trip; the bus takes a few ms
            while (await a.send_text(bob, "still?")).status.error_code == pb.Status.OK:
                accepted += 1
        assert accepted < 50, accepted
        ack = await a.send_text(bob, "blocked?")
        assert (ack.status.error_code, ack.status.reason) == (pb.Status.FAIL, "blocked")
