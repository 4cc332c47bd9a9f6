"""POST /{org}/{app}/token: every grant, its success shape and its documented failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kibitz.server.domain import accesstoken2
from tests.conftest import AppHarness

from .support import (
    FakeClock,
    app_007,
    assert_error,
    bearer,
    register,
    user_007,
    user_token,
)

pytestmark = pytest.mark.anyio


async def _token(h: AppHarness, body: Any, **kw: Any) -> Any:
    return await h.http.post(f"{h.base}/token", json=body, **kw)


def _cc(h: AppHarness, **extra: Any) -> dict[str, Any]:
    return {
        "grant_type": "client_credentials",
        "client_id": h.app.client_id,
        "client_secret": h.app.client_secret,
        **extra,
    }


# -- client_credentials ----------------------------------------------------------------


async def test_client_credentials_returns_an_app_token(harness: AppHarness) -> None:
    response = await _token(harness, _cc(harness))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "application"}
    assert body["application"] == harness.app.id
    assert body["expires_in"] == harness.services.settings.access_token_ttl_s
    listed = await harness.http.get(f"{harness.base}/users", headers=bearer(body["access_token"]))
    assert listed.status_code == 200


@pytest.mark.parametrize("ttl", [120, "120"])
async def test_client_credentials_honours_ttl(harness: AppHarness, ttl: Any) -> None:
    response = await _token(harness, _cc(harness, ttl=ttl))
    assert response.status_code == 200
    assert response.json()["expires_in"] == 120


@pytest.mark.parametrize("ttl", [-5, True, "soon", 1.5])
async def test_client_credentials_refuses_a_bad_ttl(harness: AppHarness, ttl: Any) -> None:
    assert_error(await _token(harness, _cc(harness, ttl=ttl)), 400, "illegal_argument")


async def test_client_credentials_with_a_wrong_secret_is_401(harness: AppHarness) -> None:
    body = _cc(harness, client_secret="YXA6nope")
    assert_error(await _token(harness, body), 401, "invalid_client")


async def test_client_credentials_missing_fields_is_400(harness: AppHarness) -> None:
    body = {"grant_type": "client_credentials", "client_id": harness.app.client_id}
    err = assert_error(await _token(harness, body), 400, "illegal_argument")
    assert "client_secret" in err["error_description"]


# -- password ------------------------------------------------------------------------------


async def test_password_grant_returns_a_user_token(harness: AppHarness) -> None:
    [alice] = await register(harness, "alice")
    response = await _token(
        harness,
        {"grant_type": "password", "username": "alice", "password": "secret", "timestamp": 1},
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "user"}
    assert body["user"] == alice
    assert set(body["user"]) == {"uuid", "type", "created", "modified", "username", "activated"}
    principal = await harness.services.auth.authenticate(harness.app, body["access_token"])
    assert principal.user is not None and principal.user.username == "alice"


async def test_wrong_password_says_invalid_password(harness: AppHarness) -> None:
    await register(harness, "alice")
    body = {"grant_type": "password", "username": "alice", "password": "wrong"}
    err = assert_error(await _token(harness, body), 400, "invalid_grant")
    assert err["error_description"] == "invalid password"


async def test_user_without_password_cannot_use_the_password_grant(harness: AppHarness) -> None:
    await register(harness, "alice", password=None)
    body = {"grant_type": "password", "username": "alice", "password": "anything"}
    err = assert_error(await _token(harness, body), 400, "invalid_grant")
    assert err["error_description"] == "invalid password"


async def test_unknown_user_says_user_not_found(harness: AppHarness) -> None:
    body = {"grant_type": "password", "username": "ghost", "password": "x"}
    err = assert_error(await _token(harness, body), 400, "invalid_grant")
    assert err["error_description"] == "user not found"


async def test_deactivated_user_cannot_log_in(harness: AppHarness) -> None:
    await register(harness, "alice")
    h = harness
    await h.http.post(f"{h.base}/users/alice/deactivate", headers=h.admin_headers())
    body = {"grant_type": "password", "username": "alice", "password": "secret"}
    assert_error(await _token(h, body), 403, "forbidden_op")


async def test_password_grant_with_wrong_types_is_400(harness: AppHarness) -> None:
    body = {"grant_type": "password", "username": 42, "password": "x"}
    assert_error(await _token(harness, body), 400, "illegal_argument")


# -- agora (007 app token exchange) ---------------------------------------------------


async def test_agora_grant_exchanges_a_007_app_token(
    harness_factory: Callable[..., Any],
) -> None:
    clock = FakeClock()
    h: AppHarness = await harness_factory(clock=clock)
    token = app_007(h.app, clock.now_ms(), ttl=600)
    response = await _token(h, {"grant_type": "agora"}, headers=bearer(token))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expire_timestamp", "expires_in"}
    assert body["expire_timestamp"] == (clock.now_ms() // 1000 + 600) * 1000
    assert body["expires_in"] == 600
    listed = await h.http.get(f"{h.base}/users", headers=bearer(body["access_token"]))
    assert listed.status_code == 200


async def test_agora_grant_needs_a_bearer(harness: AppHarness) -> None:
    assert_error(await _token(harness, {"grant_type": "agora"}), 401, "unauthorized")


async def test_agora_grant_refuses_a_user_token(harness: AppHarness) -> None:
    [alice] = await register(harness, "alice")
    now = harness.services.clock.now_ms()
    token = user_007(harness.app, alice["uuid"], now)
    response = await _token(harness, {"grant_type": "agora"}, headers=bearer(token))
    assert_error(response, 401, "auth_bad_access_token")


async def test_agora_grant_refuses_a_forged_token(harness: AppHarness) -> None:
    now = harness.services.clock.now_ms()
    forged = accesstoken2.build_chat_app_token(
        harness.app.app_id, "0" * 32, 600, issue_ts=now // 1000
    )
    response = await _token(harness, {"grant_type": "agora"}, headers=bearer(forged))
    err = assert_error(response, 401, "auth_bad_access_token")
    assert "corrupt" in err["error_description"]


async def test_agora_grant_refuses_an_expired_token(harness_factory: Callable[..., Any]) -> None:
    clock = FakeClock()
    h: AppHarness = await harness_factory(clock=clock)
    token = app_007(h.app, clock.now_ms(), ttl=60)
    clock.advance(61)
    response = await _token(h, {"grant_type": "agora"}, headers=bearer(token))
    err = assert_error(response, 401, "unauthorized")
    assert "expired" in err["error_description"]


# -- inherit ---------------------------------------------------------------------------------


async def test_inherit_grant_issues_a_user_token_on_an_app_credential(
    harness: AppHarness,
) -> None:
    [alice] = await register(harness, "alice")
    body = {"grant_type": "inherit", "username": "alice", "ttl": 300}
    response = await _token(harness, body, headers=harness.admin_headers())
    assert response.status_code == 200
    data = response.json()
    assert data["expires_in"] == 300 and data["user"] == alice
    principal = await harness.services.auth.authenticate(harness.app, data["access_token"])
    assert principal.user is not None and principal.user.id == alice["uuid"]


async def test_inherit_grant_can_create_the_user(harness: AppHarness) -> None:
    body = {"grant_type": "inherit", "username": "newbie", "autoCreateUser": True}
    response = await _token(harness, body, headers=harness.admin_headers())
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "newbie"
    assert await harness.services.accounts.find(harness.app, "newbie") is not None


async def test_inherit_grant_without_auto_create_reports_user_not_found(
    harness: AppHarness,
) -> None:
    body = {"grant_type": "inherit", "username": "ghost", "autoCreateUser": False}
    response = await _token(harness, body, headers=harness.admin_headers())
    assert assert_error(response, 400, "invalid_grant")["error_description"] == "user not found"


async def test_inherit_grant_accepts_a_007_app_token(harness: AppHarness) -> None:
    await register(harness, "alice")
    token = app_007(harness.app, harness.services.clock.now_ms())
    body = {"grant_type": "inherit", "username": "alice"}
    assert (await _token(harness, body, headers=bearer(token))).status_code == 200


async def test_inherit_grant_needs_an_app_credential(harness: AppHarness) -> None:
    await register(harness, "alice")
    body = {"grant_type": "inherit", "username": "alice"}
    assert_error(await _token(harness, body), 401, "unauthorized")
    alice_token = await user_token(harness, "alice")
    assert_error(await _token(harness, body, headers=bearer(alice_token)), 401, "unauthorized")


# -- bad requests ---------------------------------------------------------------------


async def test_unknown_grant_type_is_400(harness: AppHarness) -> None:
    response = await _token(harness, {"grant_type": "implicit"})
    assert_error(response, 400, "unsupported_grant_type")


@pytest.mark.parametrize("body", [{}, {"grant_type": 7}, [], "password"])
async def test_missing_or_mistyped_grant_type_is_400(harness: AppHarness, body: Any) -> None:
    assert_error(await _token(harness, body), 400, "illegal_argument")


async def test_malformed_json_is_json_parse(harness: AppHarness) -> None:
    response = await harness.http.post(
        f"{harness.base}/token",
        content=b"grant_type=password&username=a",
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "json_parse")


# -- token lifetime and revocation ----------------------------------------------------


async def test_an_expired_app_token_is_refused(harness_factory: Callable[..., Any]) -> None:
    clock = FakeClock()
    h: AppHarness = await harness_factory(clock=clock)
    token = (await _token(h, _cc(h, ttl=60))).json()["access_token"]
    assert (await h.http.get(f"{h.base}/users", headers=bearer(token))).status_code == 200
    clock.advance(61)
    err = assert_error(
        await h.http.get(f"{h.base}/users", headers=bearer(token)), 401, "unauthorized"
    )
    assert err["error_description"] == "Unable to authenticate due to expired access token."


async def test_an_expired_007_app_token_is_refused(harness_factory: Callable[..., Any]) -> None:
    clock = FakeClock()
    h: AppHarness = await harness_factory(clock=clock)
    token = app_007(h.app, clock.now_ms(), ttl=60)
    assert (await h.http.get(f"{h.base}/users", headers=bearer(token))).status_code == 200
    clock.advance(61)
    assert_error(await h.http.get(f"{h.base}/users", headers=bearer(token)), 401, "unauthorized")


async def test_a_007_app_token_works_as_bearer(harness: AppHarness) -> None:
    token = app_007(harness.app, harness.services.clock.now_ms())
    response = await harness.http.post(
        f"{harness.base}/users", json={"username": "alice"}, headers=bearer(token)
    )
    assert response.status_code == 200


async def test_password_change_invalidates_old_user_tokens(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice")
    old = await user_token(h, "alice")
    assert (await h.services.auth.authenticate(h.app, old)).user is not None
    response = await h.http.put(
        f"{h.base}/users/alice/password", json={"newpassword": "fresh"}, headers=h.admin_headers()
    )
    assert response.status_code == 200
    # The old token is now refused as expired, not merely as "not an app token".
    err = assert_error(
        await h.http.get(f"{h.base}/users", headers=bearer(old)), 401, "unauthorized"
    )
    assert "expired" in err["error_description"]
    new = await user_token(h, "alice", "fresh")
    assert (await h.services.auth.authenticate(h.app, new)).user is not None
