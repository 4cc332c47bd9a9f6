"""PROVISION: each outcome with the exact status and reason the Web SDK maps."""

from __future__ import annotations

import json

import pytest

from kibitz.protocol._msync import USER_DOMAIN, jid, pb
from kibitz.server.domain import accesstoken2
from kibitz.server.domain.clock import SystemClock

from .client import MsyncClient
from .conftest import Gateway, GatewayFactory

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


class OffsetClock:
    """The real clock plus an offset a test can move forward."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def now_ms(self) -> int:
        return SystemClock().now_ms() + self.offset_ms


async def refused(gw: Gateway, username: str, token: str) -> tuple[int, str, int | None]:
    c = await gw.client()
    reply = await c.provision(username, token, "r1")
    return reply.status.error_code, reply.status.reason, await c.closed()


async def test_expired_token(gateway_factory: GatewayFactory) -> None:
    clock = OffsetClock()
    gw = await gateway_factory(clock=clock)
    alice = await gw.user("alice")
    token = gw.services.auth.issue_user_token(gw.harness.app, alice, ttl_s=60).access_token
    clock.offset_ms = 120_000
    assert await refused(gw, "alice", token) == (pb.Status.FAIL, "Sorry, token expired", 1000)


async def test_bad_token(gateway: Gateway) -> None:
    await gateway.user("alice")
    expected = (pb.Status.FAIL, "Sorry, token or password does not match login info", 1000)
    assert await refused(gateway, "alice", "not-a-token") == expected
    assert await refused(gateway, "alice", "") == expected
    bob = await gateway.user("bob")
    assert await refused(gateway, "alice", gateway.token(bob)) == expected
    app_token = gateway.harness.app_token()
    assert await refused(gateway, "alice", app_token) == expected


async def test_token_revoked_by_password_change(gateway: Gateway) -> None:
    alice = await gateway.user("alice")
    token = gateway.token(alice)
    await gateway.services.accounts.set_password(gateway.harness.app, "alice", "new-secret")
    code, reason, _ = await refused(gateway, "alice", token)
    assert (code, reason) == (pb.Status.FAIL, "Sorry, token or password does not match login info")


async def test_unknown_user(gateway: Gateway) -> None:
    alice = await gateway.user("alice")
    token = gateway.token(alice)
    expected = (pb.Status.FAIL, "Sorry, user not found", 1000)
    assert await refused(gateway, "nobody", token) == expected
    assert await refused(gateway, "Bad Name!", token) == expected


async def test_deleted_user_with_an_old_token(gateway: Gateway) -> None:
    alice = await gateway.user("alice")
    token = gateway.token(alice)
    await gateway.services.accounts.delete(gateway.harness.app, ["alice"])
    assert await refused(gateway, "alice", token) == (
        pb.Status.FAIL,
        "Sorry, user not found",
        1000,
    )


async def test_deactivated_user(gateway: Gateway) -> None:
    alice = await gateway.user("alice")
    await gateway.services.accounts.set_activated(gateway.harness.app, "alice", False)
    code, reason, closed = await refused(gateway, "alice", gateway.token(alice))
    assert (code, reason, closed) == (
        pb.Status.PERMISSION_DENIED,
        "Sorry, user is deactivated",
        1000,
    )


async def test_unknown_app_key(gateway: Gateway) -> None:
    alice = await gateway.user("alice")
    c = await MsyncClient.open(gateway.url, "acme#nothing")
    reply = await c.provision("alice", gateway.token(alice))
    assert (reply.status.error_code, reply.status.reason) == (
        pb.Status.FAIL,
        "Sorry, app key not found",
    )
    assert await c.closed() == 1000
    c = await MsyncClient.open(gateway.url, "no-hash")
    assert (await c.provision("alice", gateway.token(alice))).status.error_code == pb.Status.FAIL


async def test_007_user_token(gateway: Gateway) -> None:
    alice = await gateway.user("alice")
    app = gateway.harness.app
    token = accesstoken2.build_chat_user_token(
        app.app_id, app.app_certificate, alice.id, 600, issue_ts=SystemClock().now_ms() // 1000
    )
    c = await gateway.client()
    reply = await c.login("alice", token, "r007")
    assert json.loads(reply.auth_token)["expires_in"] // 1000 > SystemClock().now_ms() // 1000


async def test_the_plain_starlette_route_serves_too(gateway: Gateway) -> None:
    """``gateway_route`` (the documented WebSocketRoute) behind no middleware at all."""
    from starlette.applications import Starlette

    from kibitz.server.transport.msync.endpoint import gateway_route

    from .conftest import serve

    bare = Starlette(routes=[gateway_route(gateway.harness.asgi.state.gateway)])
    server, task, port = await serve(bare, gateway.services.settings, raw=False)
    try:
        alice = await gateway.user("alice")
        c = await MsyncClient.open(f"ws://127.0.0.1:{port}/websocket", gateway.app_key)
        await c.login("alice", gateway.token(alice), "r1")
        assert await c.unread() == {}
        await c.send_raw("text")
        assert await c.closed() == 1003
    finally:
        server.should_exit = True
        await task


async def test_a_deeply_nested_json_auth_token_is_a_refused_login(gateway: Gateway) -> None:
    """It used to raise RecursionError past the decoder and close the socket with 1011."""
    await gateway.user("alice")
    c = await gateway.client()
    prov = pb.Provision(resource="r1", auth_token="[" * 5_000 + "]" * 5_000)
    msync = pb.MSync(
        command=pb.MSync.PROVISION,
        guid=jid(c.app_key, "alice", USER_DOMAIN, "r1"),
        payload=prov.SerializeToString(),
    )
    await c.send_raw(msync.SerializeToString())
    reply = await c.expect(lambda f: f.msync.command == pb.MSync.PROVISION)
    assert reply.inner.status.error_code != pb.Status.OK
    assert await c.closed() == 1000
