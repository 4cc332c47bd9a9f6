"""Two real nodes, one PostgreSQL, one Redis: everything a user notices works across nodes
exactly as on one — delivery, the device limit, kicks, status and server discovery."""

from __future__ import annotations

import asyncio

import pytest

from kibitz.protocol._msync import pb
from kibitz.server.domain.group_events import EVENT_QUEUE
from tests.server.transport.msync.client import MsyncClient
from tests.server.transport.msync.test_conversations import pull_group, send_to, typed

from .conftest import Cluster
from .support import client, texts, token, users

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_messages_cross_nodes_in_order_exactly_once(cluster: Cluster) -> None:
    u = users(cluster, "alice", "bob")
    async with (
        client(cluster, 0, u["alice"], "web") as alice,
        client(cluster, 1, u["bob"], "web") as bob,
    ):
        acks = [await alice.send_text(u["bob"], f"m{i}") for i in range(30)]
        assert all(a.status.error_code == pb.Status.OK for a in acks)
        notice = await bob.notice()
        assert notice.queue.name == u["alice"]
        got = await bob.pull(u["alice"])
        assert texts(got) == [f"m{i}" for i in range(30)]
        assert [m.id for m in got] == [a.server_id for a in acks]
        assert await bob.pull(u["alice"]) == []  # acknowledged: nothing twice
        reply = await bob.send_text(u["alice"], "back")
        assert reply.status.error_code == pb.Status.OK
        await alice.notice()
        assert texts(await alice.pull(u["bob"])) == ["back"]


async def test_the_senders_other_device_on_another_node_gets_a_copy(cluster: Cluster) -> None:
    u = users(cluster, "alice", "bob")
    async with (
        client(cluster, 0, u["alice"], "phone") as phone,
        client(cluster, 1, u["alice"], "laptop") as laptop,
    ):
        await phone.send_text(u["bob"], "from the phone")
        await laptop.notice()
        assert texts(await laptop.pull(u["alice"])) == ["from the phone"]


async def test_device_limit_counts_devices_on_every_node(cluster: Cluster) -> None:
    admin = cluster.new_app("duo", max_devices="2")
    reply = cluster.rest(
        1, "POST", "/acme/duo/users", token=admin, json={"username": "dana", "password": "pw"}
    )
    assert reply.status_code == 200, reply.text
    async with (
        client(cluster, 0, "dana", "d1", app="duo"),
        client(cluster, 1, "dana", "d2", app="duo"),
    ):
        third = await MsyncClient.open(cluster.nodes[0].ws, "acme#duo")
        try:
            reply3 = await third.provision("dana", token(cluster, 0, "dana", "duo"), "d3")
            assert reply3.status.error_code == pb.Status.TOO_MANY_DEVICES
        finally:
            await third.close()


async def test_kicks_reach_the_session_wherever_it_is(cluster: Cluster) -> None:
    u = users(cluster, "alice")
    async with client(cluster, 1, u["alice"], "web") as alice:
        reply = cluster.rest(
            0, "PUT", f"/acme/chat/users/{u['alice']}/password", json={"newpassword": "pw2"}
        )
        assert reply.status_code == 200, reply.text
        assert await alice.closed() is not None
        kick = [f for f in alice.buffer if f.msync.command == pb.MSync.SYNC]
        assert kick and kick[0].inner.metas[0].ns == pb.Meta.STATISTIC


async def test_force_logout_of_one_resource_across_nodes(cluster: Cluster) -> None:
    u = users(cluster, "alice")
    async with (
        client(cluster, 1, u["alice"], "web") as web,
        client(cluster, 0, u["alice"], "phone") as phone,
    ):
        reply = cluster.rest(0, "DELETE", f"/acme/chat/users/{u['alice']}/disconnect/web")
        assert reply.status_code == 200, reply.text
        assert await web.closed() is not None
        assert await phone.unread() == {}  # the other device stays logged in


async def test_status_and_resources_see_every_node(cluster: Cluster) -> None:
    u = users(cluster, "alice", "bob")
    async with client(cluster, 1, u["alice"], "web"):
        for node in (0, 1):
            status = cluster.rest(node, "GET", f"/acme/chat/users/{u['alice']}/status").json()
            assert status["data"] == {u["alice"]: "online"}
            res = cluster.rest(node, "GET", f"/acme/chat/users/{u['alice']}/resources").json()
            assert [d["res"] for d in res["data"]] == ["web"]
            batch = cluster.rest(
                node,
                "POST",
                "/acme/chat/users/batch/status",
                json={"usernames": [u["alice"], u["bob"]]},
            ).json()
            assert batch["data"] == [{u["alice"]: "online"}, {u["bob"]: "offline"}]
    # Gone from the directory once its session closed (bounded wait, no sleep-and-hope).
    async with asyncio.timeout(5):
        while True:
            status = cluster.rest(0, "GET", f"/acme/chat/users/{u['alice']}/status").json()
            if status["data"] == {u["alice"]: "offline"}:
                break
            await asyncio.sleep(0.05)


async def test_server_json_lists_every_live_node(cluster: Cluster) -> None:
    for node in (0, 1):
        doc = cluster.rest(node, "GET", "/easemob/server.json?app_key=acme%23chat").json()
        ports = sorted(h["port"] for h in doc["rest"]["hosts"])
        assert ports == sorted(str(n.port) for n in cluster.nodes)
        assert doc["msync-wx"]["hosts"] == doc["rest"]["hosts"]
        assert doc["app_key"] == "acme#chat"


async def test_a_group_message_and_group_events_cross_nodes(cluster: Cluster) -> None:
    """Members on two nodes: a group created through node 1, a message sent on node 0,
    delivered on node 1 (and to the sender's device there), never back to the sender."""
    u = users(cluster, "alice", "bob")
    async with (
        client(cluster, 0, u["alice"], "web") as alice,
        client(cluster, 1, u["alice"], "phone") as alice_phone,
        client(cluster, 1, u["bob"], "web") as bob,
    ):
        reply = cluster.rest(
            1,
            "POST",
            "/acme/chat/chatgroups",
            json={"groupname": "across", "owner": u["alice"], "members": [u["bob"]]},
        )
        assert reply.status_code == 200, reply.text
        gid = reply.json()["data"]["groupid"]
        await bob.notice()  # DIRECT_JOINED, in bob's own queue of group events
        (joined,) = await bob.pull(EVENT_QUEUE)
        assert pb.MUCBody.FromString(joined.payload).operation == pb.MUCBody.DIRECT_JOINED
        ack = await send_to(alice, gid, typed(pb.MessageBody.GROUPCHAT, gid))
        assert ack.status.error_code == pb.Status.OK
        for device in (bob, alice_phone):
            assert [m.id for m in (await pull_group(device, gid)).metas] == [ack.server_id]
        assert not (await pull_group(alice, gid)).metas


async def test_a_membership_change_on_one_node_holds_on_the_other(cluster: Cluster) -> None:
    """Each node keeps groups in memory for sends; a removal through node 1 reaches node 0's
    cache over the bus, so bob's next sends on node 0 are refused."""
    u = users(cluster, "alice", "bob")
    async with client(cluster, 0, u["bob"], "web") as bob:
        reply = cluster.rest(
            0,
            "POST",
            "/acme/chat/chatgroups",
            json={"groupname": "cached", "owner": u["alice"], "members": [u["bob"]]},
        )
        gid = reply.json()["data"]["groupid"]
        body = typed(pb.MessageBody.GROUPCHAT, gid)
        assert (await send_to(bob, gid, body)).status.error_code == pb.Status.OK  # cached
        removed = cluster.rest(1, "DELETE", f"/acme/chat/chatgroups/{gid}/users/{u['bob']}")
        assert removed.status_code == 200, removed.text
        accepted = 0
        async with asyncio.timeout(10):  # each try is a round trip; the bus takes a few ms
            while (await send_to(bob, gid, body)).status.error_code == pb.Status.OK:
                accepted += 1
        assert accepted < 50, accepted
        ack = await send_to(bob, gid, body)
        assert (ack.status.error_code, ack.status.reason) == (
            pb.Status.FAIL,
            "not in group or chatroom",
        )
