"""An app's REST rate per route (429 reach_limit past it, Agora's body) and its user quota
(429 resource_limited, nothing of the refused batch registered)."""

from __future__ import annotations

import pytest

from tests.conftest import AppHarness

from .support import FakeClock, assert_error, register

pytestmark = pytest.mark.anyio


async def test_a_route_past_the_apps_rate_answers_429(harness_factory: object) -> None:
    clock = FakeClock()
    h: AppHarness = await harness_factory(clock=clock)  # type: ignore[operator]
    await register(h, "alice", "bob")
    await h.http.put(f"{h.base}/settings", json={"rest_rate_per_s": 2}, headers=h.admin_headers())
    url = f"{h.base}/users/alice"
    answers = [(await h.http.get(url, headers=h.admin_headers())).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429]  # two seconds' worth, then refused
    body = assert_error(await h.http.get(url, headers=h.admin_headers()), 429, "reach_limit")
    assert body["error_description"] == "This request has reached API limit."
    other = await h.http.get(f"{h.base}/users/bob/resources", headers=h.admin_headers())
    assert other.status_code == 200  # another route has its own bucket
    clock.advance(1)
    assert (await h.http.get(url, headers=h.admin_headers())).status_code == 200


async def test_calls_without_a_credential_spend_no_apps_rate(harness_factory: object) -> None:
    """Nobody locks an app out of a route without its credentials: a refused call is a
    401 and leaves the app's bucket as it was."""
    clock = FakeClock()
    h: AppHarness = await harness_factory(clock=clock)  # type: ignore[operator]
    await register(h, "alice")
    await h.http.put(f"{h.base}/settings", json={"rest_rate_per_s": 1}, headers=h.admin_headers())
    url = f"{h.base}/users/alice"
    for bad in ({}, {"Authorization": "Bearer forged"}):
        answers = {(await h.http.get(url, headers=bad)).status_code for _ in range(10)}
        assert answers == {401}
    assert (await h.http.get(url, headers=h.admin_headers())).status_code == 200


async def test_registering_past_the_user_quota_answers_429(harness: AppHarness) -> None:
    h = harness
    await h.http.put(f"{h.base}/settings", json={"max_users": 3}, headers=h.admin_headers())
    await register(h, "alice", "bob")
    batch = [
        {"username": "carol", "password": "pw1234"},
        {"username": "dave", "password": "pw1234"},
    ]
    refused = await h.http.post(f"{h.base}/users", json=batch, headers=h.admin_headers())
    body = assert_error(refused, 429, "resource_limited")
    assert "at most 3 users" in body["error_description"]
    assert (await h.http.get(f"{h.base}/users/carol", headers=h.admin_headers())).status_code == 404
    one = await h.http.post(f"{h.base}/users", json=batch[:1], headers=h.admin_headers())
    assert one.status_code == 200, one.text
