"""Accounts REST: every route's success shape and its documented failures."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from kibitz.protocol import ErrorCode
from tests.conftest import AppHarness

from .support import (
    FakeClock,
    FakeSession,
    assert_envelope,
    assert_error,
    bearer,
    kicked,
    online,
    register,
    user_007,
    user_token,
)

pytestmark = pytest.mark.anyio


async def _post_users(h: AppHarness, body: Any) -> Any:
    return await h.http.post(f"{h.base}/users", json=body, headers=h.admin_headers())


async def _names(h: AppHarness) -> list[str]:
    response = await h.http.get(f"{h.base}/users?limit=100", headers=h.admin_headers())
    return [u["username"] for u in response.json()["entities"]]


# -- registration ------------------------------------------------------------------------


async def test_register_one_user(harness: AppHarness) -> None:
    h = harness
    response = await _post_users(h, {"username": "alice", "password": "pw", "nickname": "Al"})
    body = assert_envelope(response, h, "post")
    [entity] = body["entities"]
    assert set(entity) == {
        "uuid",
        "type",
        "created",
        "modified",
        "username",
        "activated",
        "nickname",
    }
    assert entity["username"] == "alice" and entity["type"] == "user"
    assert entity["activated"] is True and entity["nickname"] == "Al"
    assert entity["created"] == entity["modified"]
    assert body["uri"] == f"http://kibitz.test{h.base}/users"
    assert "data" not in body


async def test_register_without_password(harness: AppHarness) -> None:
    body = assert_envelope(await _post_users(harness, {"username": "bob"}), harness, "post")
    assert "nickname" not in body["entities"][0]


async def test_register_batch_reports_duplicates_per_item(harness: AppHarness) -> None:
    await register(harness, "alice")
    response = await _post_users(
        harness,
        [{"username": "alice"}, {"username": "bob"}, {"username": "carol"}, {"username": "bob"}],
    )
    body = assert_envelope(response, harness, "post")
    assert [e["username"] for e in body["entities"]] == ["bob", "carol"]
    assert body["data"] == [
        {"username": "alice", "registerUserFailReason": "the alice already exists"},
        {"username": "bob", "registerUserFailReason": "the bob already exists"},
    ]


async def test_register_duplicate_single_user(harness: AppHarness) -> None:
    await register(harness, "alice")
    response = await _post_users(harness, {"username": "alice"})
    assert_error(response, 400, "duplicate_unique_property_exists")


@pytest.mark.parametrize("name", ["Alice", "a b", "x" * 65, "ali$", "名字", 12, True])
async def test_register_refuses_an_illegal_name(harness: AppHarness, name: Any) -> None:
    assert_error(await _post_users(harness, {"username": name}), 400, "illegal_argument")
    assert await _names(harness) == []


async def test_register_accepts_every_allowed_character(harness: AppHarness) -> None:
    name = "a-z_0.9" + "x" * 57
    assert len(name) == 64
    assert (await _post_users(harness, {"username": name})).status_code == 200


@pytest.mark.parametrize("body", [{}, {"username": ""}, {"username": None}, {"name": "a"}])
async def test_register_without_username(harness: AppHarness, body: Any) -> None:
    err = assert_error(await _post_users(harness, body), 400, "illegal_argument")
    assert err["error_description"] == "Entity 'user' requires a property named username."


async def test_a_bad_item_fails_the_whole_batch(harness: AppHarness) -> None:
    body = [{"username": "good1"}, {"username": "BAD"}, {"username": "good2"}]
    assert_error(await _post_users(harness, body), 400, "illegal_argument")
    assert await _names(harness) == []


async def test_batch_over_60_is_refused_and_writes_nothing(harness: AppHarness) -> None:
    body = [{"username": f"u{i}"} for i in range(61)]
    assert_error(await _post_users(harness, body), 400, "illegal_argument")
    assert await _names(harness) == []


async def test_batch_of_60_is_accepted(harness: AppHarness) -> None:
    body = [{"username": f"u{i:02}"} for i in range(60)]
    response = await _post_users(harness, body)
    assert len(assert_envelope(response, harness, "post")["entities"]) == 60


@pytest.mark.parametrize(
    "body",
    [
        [],
        "alice",
        [1, 2],
        {"username": "alice", "password": 123},
        {"username": "alice", "nickname": ["x"]},
        {"username": "alice", "password": ""},
        {"username": "alice", "password": "p" * 65},
    ],
)
async def test_register_refuses_wrong_types(harness: AppHarness, body: Any) -> None:
    assert_error(await _post_users(harness, body), 400, "illegal_argument")
    assert await _names(harness) == []


async def test_registration_is_admin_only(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice")
    alice = await user_token(h, "alice")
    for headers in ({}, bearer(alice), bearer("garbage")):
        response = await h.http.post(f"{h.base}/users", json={"username": "eve"}, headers=headers)
        err = assert_error(response, 401, "unauthorized")
        assert err["error_description"] == "Registration is not open, please contact the app admin."
    assert await _names(h) == ["alice"]


# -- reading ---------------------------------------------------------------------------


async def test_get_one_user(harness: AppHarness) -> None:
    [alice] = await register(harness, "alice")
    response = await harness.http.get(
        f"{harness.base}/users/alice", headers=harness.admin_headers()
    )
    body = assert_envelope(response, harness, "get")
    assert body["entities"] == [alice] and body["count"] == 1
    assert body["uri"] == f"http://kibitz.test{harness.base}/users/alice"


async def test_get_unknown_user_is_404(harness: AppHarness) -> None:
    response = await harness.http.get(
        f"{harness.base}/users/ghost", headers=harness.admin_headers()
    )
    err = assert_error(response, 404, "service_resource_not_found")
    assert err["error_description"] == "username ghost doesn't exist"


async def _registered_in_order(h: AppHarness, clock: FakeClock, *names: str) -> None:
    """One call each, a millisecond apart, so registration order is the listing order."""
    for name in names:
        clock.advance(0.001)
        await register(h, name)


async def test_list_users_pages_with_an_opaque_cursor(
    harness_factory: Callable[..., Any],
) -> None:
    clock = FakeClock()
    h: AppHarness = await harness_factory(clock=clock)
    names = [f"user{i}" for i in range(5)]
    await _registered_in_order(h, clock, *names)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await h.http.get(f"{h.base}/users", params=params, headers=h.admin_headers())
        body = assert_envelope(response, h, "get")
        assert body["params"]["limit"] == ["2"]
        assert body["count"] == len(body["entities"])
        seen += [e["username"] for e in body["entities"]]
        pages += 1
        cursor = body.get("cursor")
        if cursor is None:
            break
        assert isinstance(cursor, str) and ":" not in cursor
    assert seen == names and pages == 3


async def test_list_users_default_limit_is_10(harness: AppHarness) -> None:
    await register(harness, *[f"u{i:02}" for i in range(12)])
    response = await harness.http.get(f"{harness.base}/users", headers=harness.admin_headers())
    body = assert_envelope(response, harness, "get")
    assert body["count"] == 10 and "cursor" in body


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=ten", "cursor=%%%", "cursor=YWJj"]
)
async def test_list_users_refuses_bad_query(harness: AppHarness, query: str) -> None:
    response = await harness.http.get(
        f"{harness.base}/users?{query}", headers=harness.admin_headers()
    )
    assert_error(response, 400, "illegal_argument")


# -- deleting ---------------------------------------------------------------------------


async def test_delete_one_user(harness: AppHarness) -> None:
    h = harness
    [alice] = await register(h, "alice")
    session = FakeSession("web")
    await online(h, "alice", session)
    response = await h.http.delete(f"{h.base}/users/alice", headers=h.admin_headers())
    assert assert_envelope(response, h, "delete")["entities"] == [alice]
    assert await kicked(h, session) == [ErrorCode.USER_REMOVED]
    response = await h.http.delete(f"{h.base}/users/alice", headers=h.admin_headers())
    assert_error(response, 404, "service_resource_not_found")


async def test_delete_oldest_users(harness_factory: Callable[..., Any]) -> None:
    clock = FakeClock()
    h: AppHarness = await harness_factory(clock=clock)
    await _registered_in_order(h, clock, "u3", "u1", "u2")
    response = await h.http.delete(f"{h.base}/users?limit=2", headers=h.admin_headers())
    body = assert_envelope(response, h, "delete")
    assert [e["username"] for e in body["entities"]] == ["u3", "u1"]
    assert body["count"] == 2
    assert await _names(h) == ["u2"]


async def test_delete_oldest_needs_a_limit(harness: AppHarness) -> None:
    await register(harness, "alice")
    response = await harness.http.delete(f"{harness.base}/users", headers=harness.admin_headers())
    assert_error(response, 400, "illegal_argument")
    assert await _names(harness) == ["alice"]


# -- password, ban, logout -------------------------------------------------------------


async def test_set_password(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice")
    session = FakeSession("web")
    await online(h, "alice", session)
    response = await h.http.put(
        f"{h.base}/users/alice/password", json={"newpassword": "fresh"}, headers=h.admin_headers()
    )
    assert_envelope(response, h, "set user password")
    assert await kicked(h, session) == [ErrorCode.USER_KICKED_BY_CHANGE_PASSWORD]
    await user_token(h, "alice", "fresh")
    old = {"grant_type": "password", "username": "alice", "password": "secret"}
    assert (await h.http.post(f"{h.base}/token", json=old)).status_code == 400


@pytest.mark.parametrize(
    "body", [{}, {"newpassword": 5}, {"newpassword": ""}, {"newpassword": "x" * 65}, ["a"]]
)
async def test_set_password_refuses_bad_bodies(harness: AppHarness, body: Any) -> None:
    await register(harness, "alice")
    response = await harness.http.put(
        f"{harness.base}/users/alice/password", json=body, headers=harness.admin_headers()
    )
    assert_error(response, 400, "illegal_argument")


async def test_set_password_of_unknown_user_is_404(harness: AppHarness) -> None:
    response = await harness.http.put(
        f"{harness.base}/users/ghost/password",
        json={"newpassword": "x"},
        headers=harness.admin_headers(),
    )
    assert_error(response, 404, "service_resource_not_found")


async def test_deactivate_and_activate(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice")
    session = FakeSession("web")
    await online(h, "alice", session)
    response = await h.http.post(f"{h.base}/users/alice/deactivate", headers=h.admin_headers())
    body = assert_envelope(response, h, "Deactivate user")
    assert body["entities"][0]["activated"] is False
    assert await kicked(h, session) == [ErrorCode.USER_PERMISSION_DENIED]
    response = await h.http.post(f"{h.base}/users/alice/activate", headers=h.admin_headers())
    body = assert_envelope(response, h, "activate user")
    assert body["entities"][0]["activated"] is True
    await user_token(h, "alice")


async def test_deactivate_unknown_user_is_404(harness: AppHarness) -> None:
    response = await harness.http.post(
        f"{harness.base}/users/ghost/deactivate", headers=harness.admin_headers()
    )
    assert_error(response, 404, "service_resource_not_found")


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_disconnect(harness: AppHarness, method: str) -> None:
    h = harness
    await register(h, "alice")
    web, phone = FakeSession("web"), FakeSession("phone")
    await online(h, "alice", web)
    await online(h, "alice", phone)
    response = await h.http.request(
        method, f"{h.base}/users/alice/disconnect/phone", headers=h.admin_headers()
    )
    assert assert_envelope(response, h, method.lower())["data"] == {"result": True}
    assert (
        await kicked(h, phone) == [ErrorCode.USER_KICKED_BY_OTHER_DEVICE]
        and await kicked(h, web) == []
    )
    response = await h.http.request(
        method, f"{h.base}/users/alice/disconnect", headers=h.admin_headers()
    )
    body = assert_envelope(response, h, method.lower())
    assert body["data"] == {"result": True} and body["entities"] == []
    assert await kicked(h, web) == [ErrorCode.USER_KICKED_BY_OTHER_DEVICE]
    assert h.services.sessions.sessions_of(h.app.id, "alice") == {}
    assert await h.services.live_sessions.devices(h.app.id, "alice") == []


async def test_disconnect_unknown_user_is_404(harness: AppHarness) -> None:
    response = await harness.http.get(
        f"{harness.base}/users/ghost/disconnect", headers=harness.admin_headers()
    )
    assert_error(response, 404, "service_resource_not_found")


# -- online status ---------------------------------------------------------------------


async def test_user_status(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice")
    url = f"{h.base}/users/alice/status"
    body = assert_envelope(await h.http.get(url, headers=h.admin_headers()), h, "get")
    assert body["data"] == {"alice": "offline"}
    await online(h, "alice", FakeSession("web"))
    body = assert_envelope(await h.http.get(url, headers=h.admin_headers()), h, "get")
    assert body["data"] == {"alice": "online"}


async def test_user_status_with_illegal_name_is_400(harness: AppHarness) -> None:
    response = await harness.http.get(
        f"{harness.base}/users/BAD/status", headers=harness.admin_headers()
    )
    assert_error(response, 400, "illegal_argument")


async def test_batch_status(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice", "bob")
    await online(h, "bob", FakeSession("web"))
    response = await h.http.post(
        f"{h.base}/users/batch/status",
        json={"usernames": ["alice", "bob", "ghost"]},
        headers=h.admin_headers(),
    )
    body = assert_envelope(response, h, "get batch user status")
    assert body["data"] == [{"alice": "offline"}, {"bob": "online"}, {"ghost": "offline"}]


@pytest.mark.parametrize(
    "body",
    [{}, {"usernames": "alice"}, {"usernames": [1]}, {"usernames": [f"u{i}" for i in range(101)]}],
)
async def test_batch_status_refuses_bad_bodies(harness: AppHarness, body: Any) -> None:
    response = await harness.http.post(
        f"{harness.base}/users/batch/status", json=body, headers=harness.admin_headers()
    )
    assert_error(response, 400, "illegal_argument")


# -- user tokens on admin routes -------------------------------------------------------

ADMIN_ROUTES = [
    ("GET", "/users", None),
    ("GET", "/users/alice", None),
    ("DELETE", "/users/alice", None),
    ("DELETE", "/users?limit=1", None),
    ("PUT", "/users/alice/password", {"newpassword": "x"}),
    ("POST", "/users/alice/deactivate", None),
    ("POST", "/users/alice/activate", None),
    ("GET", "/users/alice/disconnect", None),
    ("POST", "/users/alice/disconnect", None),
    ("GET", "/users/alice/status", None),
    ("POST", "/users/batch/status", {"usernames": ["alice"]}),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_user_tokens_are_refused_on_admin_routes(
    harness: AppHarness, method: str, path: str, body: Any
) -> None:
    h = harness
    [alice] = await register(h, "alice")
    issued = await user_token(h, "alice")
    minted = user_007(h.app, alice["uuid"], h.services.clock.now_ms())
    for token in (issued, minted):
        response = await h.http.request(method, h.base + path, json=body, headers=bearer(token))
        assert_error(response, 401, "unauthorized")
    response = await h.http.request(method, h.base + path, json=body)
    assert_error(response, 401, "unauthorized")
    assert await h.services.accounts.find(h.app, "alice") is not None


@pytest.mark.parametrize(
    "position", ["99999999999999999999999", str(2**63), str(2**64), "-1", str(-(2**70))]
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_a_cursor_past_any_position_is_illegal(
    harness: AppHarness, position: str, method: str
) -> None:
    cursor = base64.urlsafe_b64encode(f"{position}:u".encode()).decode().rstrip("=")
    response = await harness.http.request(
        method, f"{harness.base}/users", params={"cursor": cursor}, headers=harness.admin_headers()
    )
    assert_error(response, 400, "illegal_argument")


@pytest.mark.parametrize("name", [".", "..", "...", "alice\n"])
async def test_path_like_usernames_are_refused(harness: AppHarness, name: str) -> None:
    response = await harness.http.post(
        f"{harness.base}/users",
        json={"username": name, "password": "secret"},
        headers=harness.admin_headers(),
    )
    assert_error(response, 400, "illegal_argument")
