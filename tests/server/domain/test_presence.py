"""Presence fan-out stays cheap: a user with 3,000 followers logging in is announced in
bounded chunks, the event loop keeps serving others between them, every follower's
session gets exactly one NOTIFY meta; a burst of changes of one user is announced once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pytest

from kibitz.protocol import ErrorCode, IdGenerator
from kibitz.protocol._msync import pb
from kibitz.server.bus.codec import decode_batch, encode_batch
from kibitz.server.bus.local import LocalBus
from kibitz.server.cluster.local import LocalDirectory
from kibitz.server.domain.app_settings import AppSettingsService
from kibitz.server.domain.events import DeviceOffline, DeviceOnline, PresenceNotify
from kibitz.server.domain.presence import PresenceService, PresenceState, Subscription
from kibitz.server.domain.sessions import LiveDevice, SessionService
from kibitz.server.transport.msync.notify import NOTIFY_QUEUE, NotifyBoxes
from kibitz.server.transport.msync.registry import SessionRegistry

pytestmark = pytest.mark.anyio

APP = "app-pk"
FOLLOWERS = 3_000


class Clock:
    def now_ms(self) -> int:
        return 1_700_000_000_000


class Settings:
    async def load(self, app_pk: str) -> dict[str, Any]:
        return {}

    async def save(self, app_pk: str, values: Mapping[str, int | bool]) -> None:
        pass


class Store:
    """Just what an announcement reads."""

    def __init__(self, followers: int) -> None:
        self.followers = [Subscription(f"f{i}", 1_700_000_100_000 + i) for i in range(followers)]
        self.touched: list[tuple[str, frozenset[str]]] = []

    async def app_key(self, app_pk: str) -> str | None:
        return "acme#chat"

    async def touch(self, app_pk: str, username: str, now_ms: int, drop: Collection[str]) -> None:
        self.touched.append((username, frozenset(drop)))

    async def states(self, app_pk: str, usernames: Sequence[str]) -> dict[str, PresenceState]:
        return {u: PresenceState("here", {}, 1_700_000_000_000) for u in usernames}

    async def subscribers(self, app_pk: str, target: str, now_ms: int) -> list[Subscription]:
        return self.followers


class Session:
    def __init__(self, name: str) -> None:
        self.resource = "web"
        self.session_id = name
        self.notices: list[str] = []

    async def kick(self, code: ErrorCode, reason: str = "") -> None:
        pass

    async def close_for_shutdown(self) -> None:
        pass

    def notify(self, queue: str, frame: bytes) -> None:
        self.notices.append(queue)


def world(followers: int) -> tuple[PresenceService, Store, LocalBus, NotifyBoxes, list[Session]]:
    bus, registry, clock = LocalBus(), SessionRegistry(), Clock()
    sessions = SessionService(LocalDirectory(), bus)
    store = Store(followers)
    settings = AppSettingsService(Settings(), bus, clock)
    presence = PresenceService(store, sessions, bus, settings, clock)  # type: ignore[arg-type]
    boxes = NotifyBoxes(registry, IdGenerator(clock.now_ms), clock)
    bus.subscribe(PresenceNotify, boxes.on_presence)
    bus.subscribe(DeviceOnline, presence.devices_online)
    bus.subscribe(DeviceOffline, presence.devices_offline)
    live = [Session(s.username) for s in store.followers]
    for follower, session in zip(store.followers, live, strict=True):
        registry.add(APP, follower.username, session)
    return presence, store, bus, boxes, live


async def test_a_login_with_3000_followers_does_not_block_the_loop() -> None:
    presence, _, _, boxes, live = world(FOLLOWERS)
    loop = asyncio.get_running_loop()
    progress: list[int] = []  # followers told, as seen by another task between steps
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0)  # a yield, not a wait: runs whenever the loop is free
            now = loop.time()
            gaps.append(now - last)
            last = now
            progress.append(sum(1 for s in live if s.notices))

    tick = asyncio.create_task(ticker())
    await presence._sessions.admit(APP, "star", LiveDevice("web_1", "s1", 0), 4)
    await presence.settled(within_s=30)
    done.set()
    await asyncio.wait_for(tick, 5)

    assert all(s.notices == [NOTIFY_QUEUE] for s in live)
    assert any(0 < told < FOLLOWERS for told in progress), "the fan-out ran in one go"
    assert max(gaps) < 0.5, f"the loop was held {max(gaps):.3f} s"  # (a loaded CI box)
    (meta_id, raw), *_ = boxes.pull(live[7], 0, 10)  # type: ignore[arg-type]
    meta = pb.Meta.FromString(raw)
    assert meta.id == meta_id and meta.ns == pb.Meta.NOTIFY and meta.to_jid.name == "f7"
    value = json.loads(meta.payload)["data"]["values"][0]
    assert value == {
        "uid": "star",
        "last_time": "1700000000",
        "expiry": "1700000100",
        "ext": "here",
        "status": {"web_1": "1"},
    }
    assert boxes.pull(live[7], meta_id, 10) == []  # acknowledged: gone


async def test_a_burst_of_changes_is_announced_once_with_the_final_state() -> None:
    presence, store, bus, boxes, live = world(3)
    await bus.publish(
        [
            DeviceOnline(APP, "star", "a", 0),
            DeviceOffline(APP, "star", "a", 0),
            DeviceOnline(APP, "star", "b", 0),
            DeviceOnline(APP, "star", "c", 1),  # another node's: that node tells
        ]
    )
    await presence.settled()
    assert store.touched == [("star", frozenset({"a"}))]
    (batch,) = [boxes.pull(s, 0, 10) for s in live[:1]]
    (only,) = batch
    value = json.loads(pb.Meta.FromString(only[1]).payload)["data"]["values"][0]
    assert value["status"] == {"a": "0"}  # nothing live in the directory; a departed


def test_the_event_crosses_the_bus_codec() -> None:
    event = PresenceNotify(APP, "acme#chat", "star", '{"a":', "}", ("f1", "f2"), (1, 2))
    assert decode_batch(encode_batch(3, [event])) == (3, [event])
