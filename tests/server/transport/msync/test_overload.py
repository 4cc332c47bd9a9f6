"""A node past its load bound sheds new work — a send is refused with "server busy"
(SERVER_BUSY in our SDK), a REST call with 503 — while what is under way keeps going:
the session stays, its pulls are answered, and the node serves again once it recovers."""

from __future__ import annotations

import pytest

from kibitz.protocol._msync import pb
from kibitz.server.transport.msync.handlers.messages import SERVER_BUSY

from .client import body_text
from .conftest import GatewayFactory

pytestmark = pytest.mark.anyio


async def test_new_work_is_shed_and_the_node_recovers(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory()
    h = gateway.harness
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    a = await gateway.client(alice, "a1")
    b = await gateway.client(bob, "b1")
    assert (await a.send_text("bob", "before")).status.error_code == pb.Status.OK
    shedder = h.services.overload
    for _ in range(5):  # as a loop that stays behind would leave it
        shedder.observe_lag(10_000)
    refused = await a.send_text("bob", "during")
    assert (refused.status.error_code, refused.status.reason) == (pb.Status.FAIL, SERVER_BUSY)
    assert refused.server_id == 0
    busy = await h.http.get(f"{h.base}/users/bob", headers=h.admin_headers())
    assert busy.status_code == 503 and busy.json()["error"] == "server_busy"
    assert (await h.http.get("/health")).status_code == 200  # the node itself is alive
    assert [body_text(m) for m in await b.pull("alice")] == ["before"]  # pulls go on
    shedder.observe_lag(0)
    assert (await a.send_text("bob", "after")).status.error_code == pb.Status.OK
    assert [body_text(m) for m in await b.pull("alice")] == ["after"]
    metrics = (await h.http.get("/metrics")).text
    assert 'kibitz_sends_total{kind="user",outcome="shed"} 1.0' in metrics
