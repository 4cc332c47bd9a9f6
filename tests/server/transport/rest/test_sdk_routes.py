"""Routes the client SDKs call themselves: token renewal and kicking one's own device."""

from __future__ import annotations

import pytest

from kibitz.protocol import ErrorCode
from tests.conftest import AppHarness

from .support import (
    FakeSession,
    assert_error,
    bearer,
    kicked,
    online,
    register,
    user_007,
    user_token,
)

pytestmark = pytest.mark.anyio


async def test_renew_token_reports_the_new_tokens_expiry(harness: AppHarness) -> None:
    h = harness
    (alice,) = await register(h, "alice")
    now = h.services.clock.now_ms()
    token = user_007(h.app, alice["uuid"], now, ttl=600)
    response = await h.http.get(f"{h.base}/sdk/users/alice/token/expires", headers=bearer(token))
    assert response.status_code == 200, response.text
    expire = response.json()["expire_timestamp"]
    assert abs(expire - (now + 600_000)) <= 1_000


async def test_renew_token_refuses_another_users_or_a_bad_token(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice", "bob")
    bobs = await user_token(h, "bob")
    url = f"{h.base}/sdk/users/alice/token/expires"
    assert_error(await h.http.get(url, headers=bearer(bobs)), 401, "unauthorized")
    assert_error(await h.http.get(url, headers=bearer("nonsense")), 401, "auth_bad_access_token")
    assert_error(await h.http.get(url, headers=h.admin_headers()), 401, "unauthorized")


async def test_user_kicks_its_own_device_but_not_someone_elses(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice", "bob")
    phone = FakeSession("phone")
    await online(h, "alice", phone)
    bobs = await user_token(h, "bob")
    url = f"{h.base}/users/alice/disconnect/phone"
    assert_error(await h.http.delete(url, headers=bearer(bobs)), 401, "unauthorized")
    assert await kicked(h, phone) == []
    alices = await user_token(h, "alice")
    response = await h.http.delete(url, headers=bearer(alices))
    assert response.status_code == 200 and response.json()["data"] == {"result": True}
    assert await kicked(h, phone) == [ErrorCode.USER_KICKED_BY_OTHER_DEVICE]
