"""Devices and kicks: the device limit, single-device apps, replaced resources, and every
server-initiated logout as the STATISTIC meta the Web SDK turns into its error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from kibitz.protocol import ErrorCode
from kibitz.protocol._msync import decode_payload, pb

from .client import Frame, MsyncClient
from .conftest import Gateway

pytestmark = pytest.mark.anyio


def is_kick(frame: Frame) -> bool:
    return frame.msync.command == pb.MSync.SYNC and any(
        m.ns == pb.Meta.STATISTIC for m in frame.inner.metas
    )


async def kicked(c: MsyncClient) -> tuple[int, str, int | None]:
    """The kick's operation and reason, and the close code that follows it."""
    frame = await c.expect(is_kick)
    dl: pb.CommSyncDL = frame.inner
    assert dl.queue.name == c.username and not dl.meta_id and not dl.next_key and not dl.is_last
    (meta,) = dl.metas
    assert meta.id > 0 and meta.from_jid.name and meta.to_jid.name == c.username
    body = decode_payload(pb.StatisticsBody, meta.payload)
    return body.operation, body.reason, await c.closed()


async def test_fifth_device_is_refused(gateway: Gateway) -> None:
    alice = await gateway.user("alice")
    for i in range(4):
        await gateway.client(alice, f"d{i}")
    fifth = await gateway.client()
    reply = await fifth.provision("alice", gateway.token(alice), "d4")
    assert (reply.status.error_code, reply.status.reason) == (
        pb.Status.TOO_MANY_DEVICES,
        "Sorry, too many devices",
    )
    assert await fifth.closed() == 1000
    assert sorted(gateway.services.sessions.resources(gateway.harness.app.id, "alice")) == [
        "d0",
        "d1",
        "d2",
        "d3",
    ]


async def test_relogin_on_the_same_resource_replaces_the_session(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    first = [await gateway.client(alice, f"d{i}") for i in range(4)]
    old = gateway.services.sessions.sessions_of(gateway.harness.app.id, "alice")["d0"]
    again = await gateway.client(alice, "d0")  # the limit does not count the one it replaces
    # The older tab is logged out (206), or the two would take the resource in turns.
    assert await kicked(first[0]) == (pb.StatisticsBody.USER_LOGIN_ANOTHER_DEVICE, "", 1000)
    assert gateway.services.sessions.sessions_of(gateway.harness.app.id, "alice")["d0"] is not old
    b = await gateway.client(bob)
    await b.send_text("alice", "which one?")
    assert (await again.notice()).queue.name == "bob"


async def test_single_device_app_logs_the_old_device_out(gateway: Gateway) -> None:
    solo = await gateway.new_app("solo", max_devices=1)
    alice = await gateway.user("alice", app=solo)
    first = await gateway.client(alice, "phone")
    second = await gateway.client(app=solo)
    prov = await second.provision("alice", gateway.token(alice), "laptop")
    assert prov.status.error_code == pb.Status.OK
    op, reason, code = await kicked(first)
    assert (op, code) == (pb.StatisticsBody.USER_LOGIN_ANOTHER_DEVICE, 1000)
    assert gateway.services.sessions.resources(solo.id, "alice") == ["laptop"]
    assert reason == ""


Kick = Callable[[Gateway], Awaitable[object]]


async def _delete(gw: Gateway) -> object:
    return await gw.services.accounts.delete(gw.harness.app, ["alice"])


async def _password(gw: Gateway) -> object:
    return await gw.services.accounts.set_password(gw.harness.app, "alice", "changed")


async def _disconnect(gw: Gateway) -> object:
    return await gw.services.accounts.disconnect(gw.harness.app, "alice")


async def _deactivate(gw: Gateway) -> object:
    return await gw.services.accounts.set_activated(gw.harness.app, "alice", False)


@pytest.mark.parametrize(
    ("action", "operation"),
    [
        (_delete, pb.StatisticsBody.USER_REMOVED),
        (_password, pb.StatisticsBody.USER_KICKED_BY_CHANGE_PASSWORD),
        (_disconnect, pb.StatisticsBody.USER_KICKED_BY_OTHER_DEVICE),
        (_deactivate, pb.StatisticsBody.USER_KICKED_BY_OTHER_DEVICE),
    ],
    ids=["deleted", "password", "force-logout", "deactivated"],
)
async def test_kicks_reach_every_session(gateway: Gateway, action: Kick, operation: int) -> None:
    alice = await gateway.user("alice")
    token = gateway.token(alice)
    sessions = [await gateway.client(alice, f"d{i}") for i in range(2)]
    await action(gateway)
    for c in sessions:
        assert await kicked(c) == (operation, "", 1000)
    assert gateway.services.sessions.resources(gateway.harness.app.id, "alice") == []
    if action is _deactivate:
        c = await gateway.client()
        reply = await c.provision("alice", token, "d0")
        assert reply.status.error_code == pb.Status.PERMISSION_DENIED


async def test_kick_one_device_by_resource(gateway: Gateway) -> None:
    alice = await gateway.user("alice")
    d0 = await gateway.client(alice, "d0")
    d1 = await gateway.client(alice, "d1")
    assert await gateway.services.accounts.disconnect(gateway.harness.app, "alice", "d1") == 1
    assert await kicked(d1) == (pb.StatisticsBody.USER_KICKED_BY_OTHER_DEVICE, "", 1000)
    assert await d0.unread() == {}
    assert gateway.services.sessions.resources(gateway.harness.app.id, "alice") == ["d0"]


async def test_registry_kick_of_an_offline_user_is_a_no_op(gateway: Gateway) -> None:
    await gateway.user("alice")
    kicked_count = await gateway.services.live_sessions.kick(
        gateway.harness.app.id, "alice", ErrorCode.USER_REMOVED
    )
    assert kicked_count == 0


async def test_list_and_kick_own_devices_over_rest(gateway: Gateway) -> None:
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    phone = await gateway.client(alice, "phone")
    await gateway.client(alice, "laptop")
    h = gateway.harness
    own = {"Authorization": f"Bearer {gateway.token(alice)}"}
    r = await h.http.get(f"{h.base}/users/alice/resources", headers=own)
    assert r.status_code == 200, r.text
    assert [d["res"] for d in r.json()["data"]] == ["laptop", "phone"]
    assert r.json()["data"][0]["device_name"] == "webim"
    r = await h.http.get(f"{h.base}/users/alice/resources", headers=h.admin_headers())
    assert len(r.json()["data"]) == 2
    other = {"Authorization": f"Bearer {gateway.token(bob)}"}
    assert (await h.http.get(f"{h.base}/users/alice/resources", headers=other)).status_code == 401
    r = await h.http.get(f"{h.base}/users/nobody/resources", headers=h.admin_headers())
    assert r.status_code == 404
    # the laptop logs the phone out
    r = await h.http.delete(f"{h.base}/users/alice/disconnect/phone", headers=own)
    assert r.status_code == 200 and r.json()["data"] == {"result": True}
    assert await kicked(phone) == (pb.StatisticsBody.USER_KICKED_BY_OTHER_DEVICE, "", 1000)
    r = await h.http.get(f"{h.base}/users/alice/resources", headers=own)
    assert [d["res"] for d in r.json()["data"]] == ["laptop"]
