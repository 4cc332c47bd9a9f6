"""Presence and user attributes through the Python SDK against a real ``kibitz serve``:
REST calls with the user's own token, presence changes through the presence listener, and
the codes each refusal carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from kibitz import AdminClient, ChatClient, ChatError, ErrorCode, Presence
from tests.sdk.conftest import Clients, Live, Recorder, fresh

pytestmark = pytest.mark.anyio


class PresenceRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.presences: list[Presence] = []

    def on_presence_updated(self, presences: list[Presence]) -> None:
        self.presences.extend(presences)
        self._note()

    async def heard(self, user: str, **expect: object) -> Presence:
        def match(p: Presence) -> bool:
            return p.user_id == user and all(getattr(p, k) == v for k, v in expect.items())

        await self.until(lambda: any(map(match, self.presences)))
        return next(p for p in self.presences if match(p))


async def users(admin: AdminClient, *roles: str) -> list[str]:
    names = [fresh(r) for r in roles]
    await admin.register_users([(n, "pw") for n in names])
    return names


async def login(clients: Clients, live: Live, user: str) -> tuple[ChatClient, PresenceRecorder]:
    client, _ = clients.new(live.chat)
    rec = PresenceRecorder()
    client.presence.add_presence_listener(rec)
    await client.login(user, password="pw")
    return client, rec


async def test_presence_changes_reach_followers(
    live: Live, admin: AdminClient, clients: Clients
) -> None:
    alice, bob = await users(admin, "alice", "bob")
    b, seen = await login(clients, live, bob)
    (now,) = await b.presence.subscribe([alice, fresh("nobody")], expiry_s=3600)
    assert now.user_id == alice and not now.online and now.expiry > 0
    a, _ = await login(clients, live, alice)
    online = await seen.heard(alice, devices={a.resource: 1})
    assert online.online and online.expiry == now.expiry
    await a.presence.publish("in a meeting")
    await seen.heard(alice, description="in a meeting")
    await a.logout()
    gone = await seen.heard(alice, devices={a.resource: 0})
    assert not gone.online and gone.description == "in a meeting"
    (fetched,) = await b.presence.fetch([alice])
    assert fetched.description == "in a meeting" and fetched.devices == {}
    total, page = await b.presence.subscriptions()
    assert total == 1 and [p.user_id for p in page] == [alice]
    await b.presence.unsubscribe([alice])
    assert await b.presence.subscriptions() == (0, [])


async def test_presence_refusals(live: Live, admin: AdminClient, clients: Clients) -> None:
    (alice,) = await users(admin, "alice")
    a, _ = await login(clients, live, alice)
    cases: list[tuple[Callable[[], Awaitable[object]], ErrorCode]] = [
        (lambda: a.presence.publish("x" * 1025), ErrorCode.PRESENCE_PARAM_LENGTH_EXCEED),
        (
            lambda: a.presence.subscribe([f"u{i}" for i in range(101)]),
            ErrorCode.EXCEED_SERVICE_LIMIT,
        ),
        (lambda: a.presence.fetch([f"u{i}" for i in range(101)]), ErrorCode.EXCEED_SERVICE_LIMIT),
        (lambda: a.presence.subscribe([alice]), ErrorCode.USER_ILLEGAL_ARGUMENT),
        (lambda: a.presence.subscribe(["bob"], expiry_s=0), ErrorCode.USER_ILLEGAL_ARGUMENT),
    ]
    for call, code in cases:
        with pytest.raises(ChatError) as err:
            await call()
        assert err.value.code is code, err.value
    async with live.solo.admin() as solo_admin:
        await solo_admin._call("PUT", "/settings", json={"presence": False})
        name = fresh("carol")
        await solo_admin.register_users([(name, "pw")])
    c, _ = clients.new(live.solo)
    await c.login(name, password="pw")
    with pytest.raises(ChatError) as err:
        await c.presence.publish("hello")
    assert err.value.code is ErrorCode.SERVICE_NOT_ENABLED


async def test_user_attributes(live: Live, admin: AdminClient, clients: Clients) -> None:
    alice, bob = await users(admin, "alice", "bob")
    a, _ = await login(clients, live, alice)
    b, _ = await login(clients, live, bob)
    assert await a.user_info.update_own_info(nickname="Alice & co", gender=2) == {
        "nickname": "Alice & co",
        "gender": "2",
    }
    await a.user_info.update_own_info({"sign": "hi"})
    assert await b.user_info.fetch([alice, bob]) == {
        alice: {"nickname": "Alice & co", "gender": "2", "sign": "hi"}
    }
    assert await b.user_info.fetch([alice], ["sign"]) == {alice: {"sign": "hi"}}
    assert (await a.user_info.own_info())["sign"] == "hi"
    with pytest.raises(ChatError) as err:
        await b.user_info.fetch([f"u{i}" for i in range(101)])
    assert err.value.code is ErrorCode.USERINFO_USERCOUNT_EXCEED
    with pytest.raises(ChatError) as err:
        await a.user_info.update_own_info(ext="x" * 2048)
    assert err.value.code is ErrorCode.USERINFO_DATALENGTH_EXCEED
    assert (await a.user_info.own_info())["nickname"] == "Alice & co"  # nothing written
