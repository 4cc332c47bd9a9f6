"""``/websocket`` on the raw msync protocol (msync/rawws.py, what ``kibitz serve`` runs) and
on ASGI (GatewayMiddleware): the frame layer's corner cases, and both paths deliver."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from kibitz.protocol._msync import encode_frame, pb

from .client import MsyncClient, body_text
from .conftest import Gateway, GatewayFactory

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "asgi"])
async def test_both_paths_log_in_and_deliver(gateway_factory: GatewayFactory, raw: bool) -> None:
    gw = await gateway_factory(raw=raw)
    alice, bob = await gw.user("alice"), await gw.user("bob")
    a, b = await gw.client(alice, "a1"), await gw.client(bob, "b1")
    big = "x" * 4000  # a 16-bit length header on the way up, and down
    ack = await a.send_text("bob", big)
    assert ack.status.error_code == pb.Status.OK
    await b.notice()
    (meta,) = await b.pull("alice")
    assert body_text(meta) == big


async def test_fragmented_message_is_reassembled(gateway: Gateway) -> None:
    alice = await gateway.user("alice")
    c = await gateway.client()
    frame = _provision_bytes(c, "alice", gateway.token(alice))
    half = len(frame) // 2
    await c.ws.send([frame[:half], frame[half:]])  # two frames: BINARY, then CONTINUATION
    reply = await c.expect(lambda f: f.msync.command == pb.MSync.PROVISION)
    assert reply.inner.status.error_code == pb.Status.OK


def _provision_bytes(c: MsyncClient, username: str, token: str) -> bytes:
    prov = pb.Provision(os_type=pb.Provision.OS_OTHER, resource="r1", auth="$t$" + token)
    env = pb.MSync(
        command=pb.MSync.PROVISION,
        guid=pb.JID(app_key=c.app_key, name=username, domain="easemob.com"),
        auth="$t$" + token,
        payload=prov.SerializeToString(),
    )
    return env.SerializeToString()


async def test_ping_is_answered_and_close_is_echoed(gateway: Gateway) -> None:
    c = await gateway.client()
    pong = await c.ws.ping(b"are you there")
    await asyncio.wait_for(pong, 5)
    await c.ws.close(1000)
    assert c.ws.close_code == 1000


async def test_unmasked_client_frame_is_a_protocol_error(gateway: Gateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    writer.write(
        (
            "GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101")
    payload = encode_frame(pb.MSync.UNREAD)
    writer.write(bytes((0x82, len(payload))) + payload)  # mask bit missing
    close = await asyncio.wait_for(reader.read(64), 5)
    assert close[0] == 0x88 and int.from_bytes(close[2:4], "big") == 1002
    writer.close()


async def test_other_websocket_paths_reach_the_asgi_app(gateway: Gateway) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"ws://127.0.0.1:{gateway.port}/elsewhere", open_timeout=5)
    assert refused.value.response.status_code == 403


async def test_a_bad_upgrade_is_refused(gateway: Gateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(
        b"GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"  # no Sec-WebSocket-Key
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 400")
    writer.close()
