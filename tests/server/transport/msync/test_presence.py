"""Presence as the Web SDK drives it: subscribe over REST with the user's token, hear NOTIFY
``presence`` events (pulled from ``notify#events``) when the followed user's device logs in,
publishes, logs out; fetch, list, unsubscribe; and the refusals with Agora's errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kibitz.protocol._msync import pb
from kibitz.server.transport.msync.notify import NOTIFY_QUEUE

from .client import MsyncClient
from .conftest import Gateway
from .test_group_moderation import rest

pytestmark = pytest.mark.anyio


async def presence_events(client: MsyncClient) -> list[dict[str, Any]]:
    """Wait for the NOTICE of the notify queue, pull it; each event's one value."""
    notice = await client.notice()
    assert notice.queue.name == NOTIFY_QUEUE
    values = []
    for meta in await client.pull(NOTIFY_QUEUE):
        assert meta.ns == pb.Meta.NOTIFY and meta.from_jid.name and meta.id
        assert min(meta.payload) >= 0x10, "a byte the SDK's decoder cannot take"
        event = json.loads(meta.payload)
        assert event["type"] == "presence"
        (value,) = event["data"]["values"]  # one user per NOTIFY (the SDK's quirk)
        values.append(value)
    return values


async def test_followers_hear_logins_publishes_and_logouts(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    await gateway.user("carol")
    got = await rest(
        gateway, "POST", "/users/bob/presence/3600", bob, json={"usernames": ["alice", "nobody"]}
    )
    (state,) = got["result"]  # an unknown user is left out
    assert state["uid"] == "alice" and state["status"] == {} and state["ext"] == ""
    expiry = int(state["expiry"])
    b = await gateway.client(bob, "b1")
    a = await gateway.client(alice, "a1")
    (online,) = await presence_events(b)
    assert online["uid"] == "alice" and online["status"] == {"a1": "1"}
    assert online["expiry"] == str(expiry) and int(online["last_time"]) > 0

    await rest(gateway, "POST", "/users/alice/presence/a1/1", alice, json={"ext": "in a\nmeeting"})
    (published,) = await presence_events(b)
    assert published["ext"] == "in a\nmeeting" and published["status"] == {"a1": "1"}

    await a.close()
    (offline,) = await presence_events(b)
    assert offline["status"] == {"a1": "0"} and offline["ext"] == "in a\nmeeting"

    # fetch (no subscription needed: dave's expiry is 0), the list, unsubscribe
    dave = await gateway.user("dave")
    fetched = await rest(
        gateway, "POST", "/users/dave/presence", dave, json={"usernames": ["alice"]}
    )
    (now,) = fetched["result"]
    assert now["expiry"] == "0" and now["ext"] == "in a\nmeeting" and now["status"] == {}
    page = await rest(gateway, "GET", "/users/bob/presence/sublist?pageNum=1&pageSize=10", bob)
    assert page["result"] == {"totalnum": "1", "sublist": [{"uid": "alice", "expiry": str(expiry)}]}
    await rest(gateway, "DELETE", "/users/bob/presence", bob, json=["alice"])
    page = await rest(gateway, "GET", "/users/bob/presence/sublist", bob)
    assert page["result"] == {"totalnum": "0", "sublist": []}
    await gateway.client(alice, "a2")  # bob follows no one now: nothing for him
    await gateway.services.presence.settled()
    (session,) = gateway.services.sessions.sessions_of(gateway.harness.app.id, "bob").values()
    assert gateway.services.notify.waiting(session) == 0


async def test_refusals(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    too_big = await rest(
        gateway, "POST", "/users/alice/presence/a1/1", alice, status=400, json={"ext": "x" * 1025}
    )
    assert too_big["error_description"] == "ext is too big "  # the SDK's 1100
    many = [f"u{i}" for i in range(101)]
    await rest(
        gateway, "POST", "/users/alice/presence/60", alice, status=400, json={"usernames": many}
    )
    await rest(
        gateway, "POST", "/users/alice/presence", alice, status=400, json={"usernames": many}
    )
    me = await rest(
        gateway,
        "POST",
        "/users/alice/presence/60",
        alice,
        status=400,
        json={"usernames": ["alice"]},
    )
    assert me["error_description"] == "you can't sub yourself"
    for expiry in ("0", "2592001", "soon"):
        await rest(
            gateway,
            "POST",
            f"/users/alice/presence/{expiry}",
            alice,
            status=400,
            json={"usernames": ["bob"]},
        )
    # a user token acts only as its own user
    await rest(
        gateway, "POST", "/users/bob/presence/60", alice, status=401, json={"usernames": ["alice"]}
    )
    await rest(gateway, "GET", "/users/bob/presence/sublist", alice, status=401)
    await rest(gateway, "GET", "/users/bob/presence/sublist?pageSize=501", bob, status=400)
    # presence switched off for the app
    await gateway.services.app_settings.update(gateway.harness.app.id, {"presence": False})
    off = await rest(
        gateway, "POST", "/users/alice/presence/a1/1", alice, status=403, json={"ext": "x"}
    )
    assert "service not open!" in off["error_description"]  # the SDK's 505


async def test_the_subscription_limit_displaces_the_soonest(gateway: Gateway) -> None:
    await gateway.services.app_settings.update(
        gateway.harness.app.id, {"presence_subscriptions": 2}
    )
    alice = await gateway.user("alice")
    for name in ("b", "c", "d", "e"):
        await gateway.user(name)
    await rest(gateway, "POST", "/users/alice/presence/100", json={"usernames": ["b"]})
    await rest(gateway, "POST", "/users/alice/presence/200", json={"usernames": ["c"]})
    await rest(gateway, "POST", "/users/alice/presence/300", alice, json={"usernames": ["d"]})
    page = await rest(gateway, "GET", "/users/alice/presence/sublist", alice)
    assert [s["uid"] for s in page["result"]["sublist"]] == ["c", "d"]
    # nothing ends sooner than a new 50 s one: refused, nothing written
    await rest(
        gateway, "POST", "/users/alice/presence/50", alice, status=400, json={"usernames": ["e"]}
    )
    page = await rest(gateway, "GET", "/users/alice/presence/sublist", alice)
    assert page["result"]["totalnum"] == "2"


async def test_a_kicked_device_is_offline_for_followers(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    await rest(gateway, "POST", "/users/bob/presence/600", bob, json={"usernames": ["alice"]})
    b = await gateway.client(bob, "b1")
    await gateway.client(alice, "a1")
    assert (await presence_events(b))[-1]["status"] == {"a1": "1"}
    await gateway.client(alice, "a2")
    assert (await presence_events(b))[-1]["status"] == {"a1": "1", "a2": "1"}
    await rest(gateway, "DELETE", "/users/alice/disconnect/a1")  # the server API's kick
    (kicked,) = await presence_events(b)
    assert kicked["status"] == {"a1": "0", "a2": "1"}


async def test_a_single_device_login_takes_the_other_device_offline(gateway: Gateway) -> None:
    solo = await gateway.new_app("solo", max_devices=1)
    alice = await gateway.user("alice", app=solo)
    bob = await gateway.user("bob", app=solo)
    await gateway.services.presence.subscribe(solo, "bob", ["alice"], 600)
    b = await gateway.client(bob, "b1")
    await gateway.client(alice, "phone")
    assert (await presence_events(b))[-1]["status"] == {"phone": "1"}
    await gateway.client(alice, "laptop")
    (moved,) = await presence_events(b)
    assert moved["status"] == {"laptop": "1", "phone": "0"}
