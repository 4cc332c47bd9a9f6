"""PROVISION: each outcome with the exact status and reason the Web SDK maps."""

from __future__ import annotations

import json

import pytest

from kibitz.protocol._msync import pb

from .conftest import Gateway

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("where", ["auth", "auth_token", "provision_auth"])
async def test_login_ok_echoes_resource_and_expiry(gateway: Gateway, where: str) -> None:
    alice = await gateway.user("alice")
    c = await gateway.client()
    issued = gateway.harness.services.auth.issue_user_token(gateway.harness.app, alice)
    reply = await c.provision("alice", issued.access_token, "webim_web_1", where=where)
    assert reply.status.error_code == pb.Status.OK
    assert reply.resource == "webim_web_1"
    assert json.loads(reply.auth_token) == {"expires_in": issued.expires_at_ms}
    assert not reply.protocol_compress_type
    assert await c.unread() == {}


async def test_login_without_resource_gets_one(gateway: Gateway) -> None:
    alice = await gateway.user("alice")
    c = await gateway.client()
    reply = await c.login("alice", gateway.token(alice))
    assert reply.resource.startswith("kibitz_")
