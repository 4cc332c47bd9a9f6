"""User attributes over REST: the Web SDK's form-encoded PUT with the user's own token, JSON
from server clients, the batch fetch of ≤ 100 users (900 past it), ≤ 2 KB per user (901,
nothing written), the app's capacity (app token), deletion, and a user token acting only
as its own user."""

from __future__ import annotations

import pytest

from tests.conftest import AppHarness

from .support import assert_error, bearer, register, user_token

pytestmark = pytest.mark.anyio

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_set_get_fetch_delete(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice", "bob")
    alice = bearer(await user_token(h, "alice"))
    url = f"{h.base}/metadata/user/alice"
    # the Web SDK's object form: URL-encoded keys and values
    r = await h.http.put(
        url, content="nickname=Al%20ice&avatarurl=http%3A%2F%2Fa%2Fb.png", headers=alice | FORM
    )
    assert r.status_code == 200 and r.json()["data"] == {
        "nickname": "Al ice",
        "avatarurl": "http://a/b.png",
    }
    # the two-argument form (unencoded) merges with what is there
    r = await h.http.put(url, content="sign=hi", headers=alice | FORM)
    assert r.json()["data"] == {"sign": "hi"}
    # an app token sets anyone's, JSON too
    r = await h.http.put(
        f"{h.base}/metadata/user/bob",
        json={"nickname": "Bob", "gender": 1},
        headers=h.admin_headers(),
    )
    assert r.json()["data"] == {"nickname": "Bob", "gender": "1"}
    r = await h.http.get(url, headers=bearer(await user_token(h, "bob")))  # anyone reads
    assert r.json()["data"] == {"nickname": "Al ice", "avatarurl": "http://a/b.png", "sign": "hi"}
    r = await h.http.post(
        f"{h.base}/metadata/user/get",
        json={"targets": ["alice", "bob", "nobody"], "properties": ["nickname"]},
        headers=alice,
    )
    assert r.json()["data"] == {"alice": {"nickname": "Al ice"}, "bob": {"nickname": "Bob"}}
    r = await h.http.get(f"{h.base}/metadata/user/capacity", headers=h.admin_headers())
    used = len("nicknameAl iceavatarurlhttp://a/b.pngsignhi") + len("nicknameBobgender1")
    assert r.json()["data"] == used
    r = await h.http.delete(url, headers=alice)
    assert r.json()["data"] is True
    r = await h.http.get(url, headers=h.admin_headers())
    assert r.json()["data"] == {}


async def test_refusals(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice", "bob")
    alice = bearer(await user_token(h, "alice"))
    base = f"{h.base}/metadata/user"
    # another user's attributes, the capacity: not with alice's token
    r = await h.http.put(f"{base}/bob", content="nickname=x", headers=alice | FORM)
    assert_error(r, 401, "unauthorized")
    r = await h.http.delete(f"{base}/bob", headers=alice)
    assert_error(r, 401, "unauthorized")
    r = await h.http.get(f"{base}/capacity", headers=alice)
    assert_error(r, 401, "unauthorized")
    # > 2 KB in all: 901, and nothing written
    await h.http.put(f"{base}/alice", content="nickname=kept", headers=alice | FORM)
    r = await h.http.put(f"{base}/alice", content="ext=" + "x" * 2_040, headers=alice | FORM)
    body = assert_error(r, 400, "illegal_argument")
    assert "2048 bytes" in body["error_description"]
    r = await h.http.get(f"{base}/alice", headers=alice)
    assert r.json()["data"] == {"nickname": "kept"}
    # > 100 users in one fetch: 900
    r = await h.http.post(
        f"{base}/get", json={"targets": [f"u{i}" for i in range(101)]}, headers=alice
    )
    assert "at most 100 users" in assert_error(r, 400, "illegal_argument")["error_description"]
    # malformed bodies and unknown users
    for content, headers in (("", FORM), ("not json", {}), ("[1]", {}), ('{"k": {}}', {})):
        r = await h.http.put(f"{base}/alice", content=content, headers=alice | headers)
        assert r.status_code == 400, content
    r = await h.http.put(f"{base}/nobody", content="k=v", headers=h.admin_headers() | FORM)
    assert_error(r, 404, "service_resource_not_found")
    r = await h.http.post(f"{base}/get", json={"targets": []}, headers=alice)
    assert_error(r, 400, "illegal_argument")


async def test_the_app_setting_sets_the_size(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice")
    await h.services.app_settings.update(h.app.id, {"user_attributes_bytes": 16})
    url = f"{h.base}/metadata/user/alice"
    r = await h.http.put(url, content="k=" + "v" * 15, headers=h.admin_headers() | FORM)
    assert r.status_code == 200
    r = await h.http.put(url, content="k2=v", headers=h.admin_headers() | FORM)
    assert_error(r, 400, "illegal_argument")
