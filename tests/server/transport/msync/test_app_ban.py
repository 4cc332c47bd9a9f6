"""Banning an app (issue 15 item 3): ``POST /{org}/{app}/disable`` closes the app's sessions,
refuses its logins (IM_FORBIDDEN, the Web SDK's 57 "server serving disabled"; our SDK's
SERVER_SERVICE_RESTRICTED) and its REST calls (403), and leaves other apps alone; nothing
stored is lost, and ``/enable`` restores everything."""

from __future__ import annotations

import pytest

from kibitz.protocol._msync import pb

from ..rest.support import bearer
from .client import MsyncClient, body_text
from .conftest import Gateway

pytestmark = pytest.mark.anyio


async def test_a_ban_closes_refuses_and_loses_nothing(gateway: Gateway) -> None:
    h = gateway.harness
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    other_app = await gateway.new_app("other")
    carol = await gateway.user("carol", app=other_app)
    a = await gateway.client(alice, "a1")
    c = await gateway.client(carol, "c1")
    assert (await a.send_text("bob", "before the ban")).status.error_code == pb.Status.OK
    token = gateway.token(bob)

    banned = await h.http.post(f"{h.base}/disable", headers=h.admin_headers())
    assert banned.status_code == 200 and banned.json()["data"] == {"disabled": True}
    assert await a.closed() == 1001  # going away: the SDK comes back, and is refused
    fresh = await MsyncClient.open(gateway.url, h.app.app_key)
    try:
        refused = await fresh.provision("bob", token, "b1")
    finally:
        await fresh.close()
    assert (refused.status.error_code, refused.status.reason) == (
        pb.Status.IM_FORBIDDEN,
        "Sorry, the app is disabled",
    )
    for method, path in (("GET", "/users/bob"), ("GET", "/settings"), ("POST", "/token")):
        answer = await h.http.request(
            method, h.base + path, headers=h.admin_headers(), json={"grant_type": "password"}
        )
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["error"] == "forbidden_op"
        assert "service restricted" in answer.json()["error_description"]
    user_call = await h.http.get(f"{h.base}/users/bob/resources", headers=bearer(token))
    assert user_call.status_code == 403
    # Another app is untouched.
    assert (await c.send_text("carol", "still here")).status.error_code == pb.Status.OK

    restored = await h.http.post(f"{h.base}/enable", headers=h.admin_headers())
    assert restored.status_code == 200 and restored.json()["data"] == {"disabled": False}
    b = await gateway.client(bob, "b1")
    assert [body_text(m) for m in await b.pull("alice")] == ["before the ban"]


async def test_only_an_app_credential_bans(gateway: Gateway) -> None:
    h = gateway.harness
    alice = await gateway.user("alice")
    refused = await h.http.post(f"{h.base}/disable", headers=bearer(gateway.token(alice)))
    assert refused.status_code == 401
    assert (await h.http.get(f"{h.base}/users/alice", headers=h.admin_headers())).status_code == 200
