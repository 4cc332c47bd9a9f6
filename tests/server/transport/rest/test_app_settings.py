"""``/{org}/{app}/settings`` over REST: an app credential reads and changes its own app's
settings, all or nothing, and a user token cannot."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import AppHarness

from .support import assert_error, bearer, register, user_token

pytestmark = pytest.mark.anyio


async def test_read_change_and_read_back(harness: AppHarness) -> None:
    h = harness
    url = f"{h.base}/settings"
    got = await h.http.get(url, headers=h.admin_headers())
    assert got.status_code == 200, got.text
    assert got.json()["data"]["max_group_users"] == 5000
    assert got.json()["data"]["contacts_only"] is False
    put = await h.http.put(
        url, json={"contacts_only": True, "max_group_users": 300}, headers=h.admin_headers()
    )
    assert put.status_code == 200, put.text
    assert put.json()["data"]["contacts_only"] is True
    again = (await h.http.get(url, headers=h.admin_headers())).json()["data"]
    assert again["contacts_only"] is True and again["max_group_users"] == 300


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"contacts_only": True, "max_group_users": -1}, "max_group_users"),
        ({"contacts_only": True, "colour": "blue"}, "unknown setting colour"),
        ([1, 2], "object"),
    ],
)
async def test_a_bad_change_is_a_400_naming_it_and_nothing_changes(
    harness: AppHarness, body: Any, named: str
) -> None:
    h = harness
    response = await h.http.put(f"{h.base}/settings", json=body, headers=h.admin_headers())
    assert named in assert_error(response, 400, "illegal_argument")["error_description"]
    data = (await h.http.get(f"{h.base}/settings", headers=h.admin_headers())).json()["data"]
    assert data["contacts_only"] is False


async def test_a_user_token_and_another_app_cannot_touch_them(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice")
    alice = bearer(await user_token(h, "alice"))
    assert_error(await h.http.get(f"{h.base}/settings", headers=alice), 401, "unauthorized")
    refused = await h.http.put(f"{h.base}/settings", json={"presence": False}, headers=alice)
    assert_error(refused, 401, "unauthorized")
    other = await h.services.apps.create("acme", "other")
    other_token = h.services.auth.issue_app_token(other).access_token
    await h.http.put("/acme/other/settings", json={"presence": False}, headers=bearer(other_token))
    mine = (await h.http.get(f"{h.base}/settings", headers=h.admin_headers())).json()["data"]
    assert mine["presence"] is True
    cross = await h.http.get(f"{h.base}/settings", headers=bearer(other_token))
    assert_error(cross, 401, "auth_bad_access_token")


async def test_the_group_size_ceiling_follows_the_app_setting(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice")
    create = {"groupname": "big", "owner": "alice", "maxusers": 4_000}
    url = f"{h.base}/chatgroups"
    assert (await h.http.post(url, json=create, headers=h.admin_headers())).status_code == 200
    await h.http.put(f"{h.base}/settings", json={"max_group_users": 300}, headers=h.admin_headers())
    refused = await h.http.post(url, json=create, headers=h.admin_headers())
    assert (
        "between 1 and 300" in assert_error(refused, 400, "illegal_argument")["error_description"]
    )
    fits = {**create, "maxusers": 300}
    assert (await h.http.post(url, json=fits, headers=h.admin_headers())).status_code == 200
