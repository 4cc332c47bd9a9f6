"""REST send (``POST /{org}/{app}/messages/users``) takes the durable path and reaches clients."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kibitz.protocol._msync import content_from_pb, decode_payload, ext_from_keyvalues, pb

from .conftest import Gateway

pytestmark = pytest.mark.anyio


async def post(gw: Gateway, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    h = gw.harness
    return await h.http.post(
        f"{h.base}/messages/users",
        json=body,
        headers=h.admin_headers() if headers is None else headers,
    )


@pytest.mark.parametrize(
    ("kind", "body", "expect"),
    [
        ("txt", {"msg": "hello from the server"}, {"text": "hello from the server"}),
        ("cmd", {"action": "refresh"}, {"action": "refresh"}),
        (
            "custom",
            {"customEvent": "gift", "customExts": {"size": "xl", "n": 3}},
            {"custom_event": "gift", "custom_exts": {"size": "xl", "n": "3"}},
        ),
        (
            "loc",
            {"lat": 48.85, "lng": "2.35", "addr": "Paris"},
            {"latitude": 48.85, "longitude": 2.35, "address": "Paris"},
        ),
    ],
)
async def test_rest_send_reaches_an_online_client(
    gateway: Gateway, kind: str, body: dict[str, Any], expect: dict[str, Any]
) -> None:
    bob = await gateway.user("bob")
    b = await gateway.client(bob, "b1")
    ext = {"s": "x", "i": 7, "f": 1.5, "b": True, "o": {"k": [1, 2]}}
    r = await post(gateway, {"to": ["bob"], "type": kind, "body": body, "ext": ext})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert list(data) == ["bob"]
    assert (await b.notice()).queue.name == "admin"
    (meta,) = await b.pull("admin")
    assert str(meta.id) == data["bob"]
    assert meta.from_jid.name == "admin" and not meta.from_jid.client_resource
    message = decode_payload(pb.MessageBody, meta.payload)
    assert (message.from_jid.name, message.to_jid.name) == ("admin", "bob")
    content = content_from_pb(message.contents[0])
    for field, value in expect.items():
        assert getattr(content, field) == value
    assert ext_from_keyvalues(message.ext) == ext


async def test_rest_send_to_offline_and_unknown_users(gateway: Gateway) -> None:
    await gateway.user("bob")
    await gateway.user("carol")
    to = ["bob", "nobody", "carol", "bob"]
    r = await post(gateway, {"from": "system", "to": to, "type": "txt", "body": {"msg": "hi"}})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert list(data) == ["bob", "nobody", "carol"]  # every name gets an id, once
    assert len(set(data.values())) == 3
    b = await gateway.client(await gateway.services.accounts.get(gateway.harness.app, "bob"))
    assert await b.unread() == {"system": 1}
    (meta,) = await b.pull("system")
    assert str(meta.id) == data["bob"]
    assert await gateway.services.accounts.find(gateway.harness.app, "system") is None


async def test_six_hundred_recipients_in_one_call(gateway: Gateway) -> None:
    await gateway.user("bob")
    to = ["bob"] + [f"ghost{i}" for i in range(599)]
    r = await post(gateway, {"to": to, "type": "txt", "body": {"msg": "all of you"}})
    assert r.status_code == 200, r.text
    ids = [int(i) for i in r.json()["data"].values()]
    assert len(ids) == 600 and len(set(ids)) == 600
    r = await post(gateway, {"to": [*to, "one-too-many"], "type": "txt", "body": {"msg": "x"}})
    assert r.status_code == 400
    assert r.json()["error_description"] == "params to's size can't exceed limit"


async def test_sync_device_copies_to_the_senders_devices(gateway: Gateway) -> None:
    alice, _ = await gateway.user("alice"), await gateway.user("bob")
    a = await gateway.client(alice, "a1")
    body = {"from": "alice", "to": ["bob"], "type": "txt", "body": {"msg": "x"}}
    r = await post(gateway, {**body, "sync_device": True})
    (meta,) = await a.pull("alice")
    assert str(meta.id) == r.json()["data"]["bob"]


@pytest.mark.parametrize(
    ("body", "status", "description"),
    [
        ({"from": "", "to": ["bob"], "type": "txt", "body": {"msg": "x"}}, 400, None),
        ({"to": [], "type": "txt", "body": {"msg": "x"}}, 400, None),
        ({"to": ["Bad Name"], "type": "txt", "body": {"msg": "x"}}, 400, None),
        ({"to": ["bob"], "type": "img", "body": {"url": "x"}}, 400, None),
        ({"to": ["bob"], "type": "txt", "body": {"msg": ""}}, 400, None),
        ({"to": ["bob"], "type": "txt", "body": {"msg": "x"}, "ext": None}, 400, None),
        ({"to": ["bob"], "type": "loc", "body": {"lat": "north", "lng": 1}}, 400, None),
        ({"to": ["bob"], "type": "custom", "body": {"customEvent": "no spaces"}}, 400, None),
        ({"to": ["bob"], "type": "txt", "body": {"msg": "x" * 6000}}, 413, "message is too large"),
        (["not", "an", "object"], 400, None),
    ],
)
async def test_rest_send_refusals(
    gateway: Gateway, body: Any, status: int, description: str | None
) -> None:
    r = await post(gateway, body)
    assert r.status_code == status, r.text
    assert r.json()["error"]
    if description:
        assert r.json()["error_description"] == description


async def test_rest_send_needs_an_app_token(gateway: Gateway) -> None:
    bob = await gateway.user("bob")
    body = {"to": ["bob"], "type": "txt", "body": {"msg": "x"}}
    assert (await post(gateway, body, headers={})).status_code == 401
    user_headers = {"Authorization": f"Bearer {gateway.token(bob)}"}
    assert (await post(gateway, body, headers=user_headers)).status_code == 401
