"""Tenancy over REST: the path names the app, and nothing of one app opens another."""

from __future__ import annotations

from typing import Any

import pytest

from kibitz.server.domain.models import App
from tests.conftest import AppHarness

from .support import app_007, assert_error, bearer, register, user_token

pytestmark = pytest.mark.anyio


async def _other_app(h: AppHarness) -> App:
    return await h.services.apps.create("acme", "other")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/nobody/chat/users", None),
        ("GET", "/acme/nochat/users/alice", None),
        ("POST", "/ghost/ghost/users", {"username": "alice"}),
        ("POST", "/ghost/ghost/token", {"grant_type": "client_credentials"}),
        ("POST", "/ghost/ghost/users/batch/status", {"usernames": []}),
    ],
)
async def test_unknown_org_or_app_is_404(
    harness: AppHarness, method: str, path: str, body: Any
) -> None:
    for headers in ({}, harness.admin_headers()):
        response = await harness.http.request(method, path, json=body, headers=headers)
        assert_error(response, 404, "organization_application_not_found")


async def test_app_token_of_another_app_is_refused(harness: AppHarness) -> None:
    h = harness
    other = await _other_app(h)
    foreign = h.services.auth.issue_app_token(other).access_token
    response = await h.http.get(f"{h.base}/users", headers=bearer(foreign))
    err = assert_error(response, 401, "auth_bad_access_token")
    assert err["error_description"] == "Unable to authenticate."


async def test_007_token_of_another_app_is_refused(harness: AppHarness) -> None:
    h = harness
    other = await _other_app(h)
    foreign = app_007(other, h.services.clock.now_ms())
    response = await h.http.post(
        f"{h.base}/users", json={"username": "eve"}, headers=bearer(foreign)
    )
    assert_error(response, 401, "unauthorized")
    response = await h.http.post(
        f"{h.base}/token", json={"grant_type": "agora"}, headers=bearer(foreign)
    )
    assert_error(response, 401, "auth_bad_access_token")
    assert await h.services.accounts.find(h.app, "eve") is None


async def test_client_credentials_of_another_app_are_refused(harness: AppHarness) -> None:
    h = harness
    other = await _other_app(h)
    body = {
        "grant_type": "client_credentials",
        "client_id": other.client_id,
        "client_secret": other.client_secret,
    }
    assert_error(await h.http.post(f"{h.base}/token", json=body), 401, "invalid_client")
    assert (await h.http.post("/acme/other/token", json=body)).status_code == 200


async def test_user_token_of_another_app_is_refused_for_inherit(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice")
    alice = await user_token(h, "alice")
    await _other_app(h)
    body = {"grant_type": "inherit", "username": "alice", "autoCreateUser": True}
    response = await h.http.post("/acme/other/token", json=body, headers=bearer(alice))
    assert_error(response, 401, "auth_bad_access_token")
    assert (
        await h.services.accounts.find(await h.services.apps.resolve("acme", "other"), "alice")
        is None
    )


async def test_accounts_are_separate_per_app(harness: AppHarness) -> None:
    h = harness
    other = await _other_app(h)
    other_headers = bearer(h.services.auth.issue_app_token(other).access_token)
    [mine] = await register(h, "alice")
    # The same username is free in the other app, and is a different user there.
    response = await h.http.post(
        "/acme/other/users", json={"username": "alice", "password": "other"}, headers=other_headers
    )
    assert response.status_code == 200
    theirs = response.json()["entities"][0]
    assert theirs["uuid"] != mine["uuid"]
    assert response.json()["application"] == other.id != h.app.id
    # Listing, passwords and deletion stay inside each app.
    listed = await h.http.get("/acme/other/users", headers=other_headers)
    assert [u["uuid"] for u in listed.json()["entities"]] == [theirs["uuid"]]
    await user_token(h, "alice", "secret")
    login = {"grant_type": "password", "username": "alice", "password": "secret"}
    assert (await h.http.post("/acme/other/token", json=login)).status_code == 400
    assert (
        await h.http.delete("/acme/other/users/alice", headers=other_headers)
    ).status_code == 200
    response = await h.http.get(f"{h.base}/users/alice", headers=h.admin_headers())
    assert response.json()["entities"] == [mine]


async def test_admin_of_one_app_cannot_touch_another(harness: AppHarness) -> None:
    h = harness
    other = await _other_app(h)
    other_headers = bearer(h.services.auth.issue_app_token(other).access_token)
    await h.http.post("/acme/other/users", json={"username": "bob"}, headers=other_headers)
    for method, path in [
        ("GET", "/acme/other/users/bob"),
        ("DELETE", "/acme/other/users/bob"),
        ("POST", "/acme/other/users/bob/deactivate"),
    ]:
        response = await h.http.request(method, path, headers=h.admin_headers())
        assert_error(response, 401, "auth_bad_access_token")
    assert await h.services.accounts.find(other, "bob") is not None
