"""App-wide mutes (``/mutes``, agora-rest.md §3.7) as a muted user feels them: its device's
sends of the muted kind are refused with the Web SDK's "user is mute" (USER_MUTED) until
the time runs out or the app lifts it; other kinds and the app's own REST sends pass. And
the app's message rate per user: past it a send is refused with "traffic limit"."""

from __future__ import annotations

import pytest

from kibitz.protocol._msync import pb

from ..rest.support import FakeClock, bearer
from .conftest import GatewayFactory
from .test_conversations import send_to, typed
from .test_group_moderation import group, rest, status

pytestmark = pytest.mark.anyio

MUTE = (pb.Status.PERMISSION_DENIED, "user is mute")
OK = (pb.Status.OK, "")


async def test_a_muted_user_cannot_send_that_kind_until_it_ends(
    gateway_factory: GatewayFactory,
) -> None:
    clock = FakeClock()
    gateway = await gateway_factory(clock=clock)
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    gid = await group(gateway, alice, "bob")
    b = await gateway.client(bob, "b1")
    answer = await rest(gateway, "POST", "/mutes", json={"username": "bob", "chat": 60})
    assert answer["data"] == {"result": "ok"}
    assert status(await b.send_text("alice", "hi")) == MUTE
    assert status(await send_to(b, gid, typed(pb.MessageBody.GROUPCHAT, gid))) == OK
    one = (await rest(gateway, "GET", "/mutes/bob"))["data"]
    assert (one["userid"], one["chat"], one["groupchat"], one["chatroom"]) == ("bob", 60, 0, 0)
    await rest(gateway, "POST", "/mutes", json={"username": "bob", "groupchat": -1})
    assert status(await send_to(b, gid, typed(pb.MessageBody.GROUPCHAT, gid))) == MUTE
    listed = (await rest(gateway, "GET", "/mutes"))["data"]["data"]
    assert listed == [{"username": "bob", "chat": 60}, {"username": "bob", "groupchat": -1}]
    # The app's own send in bob's name is no device's: not muted.
    sent = await gateway.harness.http.post(
        f"{gateway.harness.base}/messages/users",
        json={"from": "bob", "to": ["alice"], "type": "txt", "body": {"msg": "from the app"}},
        headers=gateway.harness.admin_headers(),
    )
    assert sent.status_code == 200, sent.text
    clock.advance(61)
    assert status(await b.send_text("alice", "hi again")) == OK
    await rest(gateway, "POST", "/mutes", json={"username": "bob", "groupchat": 0})
    assert status(await send_to(b, gid, typed(pb.MessageBody.GROUPCHAT, gid))) == OK
    assert (await rest(gateway, "GET", "/mutes"))["data"]["data"] == []


async def test_bad_requests(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory()
    bob = await gateway.user("bob")
    nobody = await rest(gateway, "POST", "/mutes", json={"username": "zed", "chat": 5}, status=404)
    assert nobody["error"] == "service_resource_not_found"
    for body in (
        {"username": "bob"},
        {"username": "bob", "chat": -2},
        {"username": "bob", "chat": 2**31},
        {"username": "bob", "chat": "soon"},
        {"chat": 5},
    ):
        refused = await rest(gateway, "POST", "/mutes", json=body, status=400)
        assert refused["error"] == "illegal_argument", body
    await rest(gateway, "GET", "/mutes/zed", status=404)
    await rest(gateway, "GET", "/mutes?pageSize=0", status=400)
    h = gateway.harness
    mine = await h.http.post(
        f"{h.base}/mutes",
        json={"username": "bob", "chat": 5},
        headers=bearer(gateway.token(bob)),
    )
    assert mine.status_code == 401


async def test_a_user_past_the_apps_message_rate_is_told_traffic_limit(
    gateway_factory: GatewayFactory,
) -> None:
    clock = FakeClock()
    gateway = await gateway_factory(clock=clock)
    await rest(gateway, "PUT", "/settings", json={"message_rate_per_user": 2})
    await gateway.user("alice")
    b = await gateway.client(await gateway.user("bob"), "b1")
    sent = [status(await b.send_text("alice", f"m{n}")) for n in range(5)]
    assert sent == [OK] * 4 + [(pb.Status.PERMISSION_DENIED, "traffic limit")]
    clock.advance(1)
    assert status(await b.send_text("alice", "later")) == OK
    h = gateway.harness
    by_app = await h.http.post(
        f"{h.base}/messages/users",
        json={"from": "bob", "to": ["alice"], "type": "txt", "body": {"msg": "app"}},
        headers=h.admin_headers(),
    )
    assert by_app.status_code == 200, by_app.text  # the app's sends: the REST rate instead
