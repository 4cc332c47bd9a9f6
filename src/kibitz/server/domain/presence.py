"""Presence: what a user says of itself (a description, a status per device), who follows
it, and telling the followers when it changes (agora-rest.md §3.8, agora-protocol-2.md §6).

A user subscribes to ≤ 100 users per call, ≤ the app's ``presence_subscriptions`` (3,000)
in all, each for ≤ 30 days; past the limit a longer subscription displaces the ones that
end soonest (Agora's rule), and only when none can go is it refused. A change — a publish,
a device of the user logging in or out on any node — is announced by the node where it
happened: it reads the subscribers once and publishes ``PresenceNotify`` events of at most
``chunk`` subscribers each, yielding to the loop between them, so a user with thousands
of followers never holds the gateway up; each node hands the events to its own sessions
(transport/msync/notify.py). Changes wait in a bounded map, one entry per user, so a burst
of logins and logouts of one user is announced once with its final state (as Agora does).

The per-device detail is computed, not stored: the user's live devices (the device
directory) each with the status it published, or "1"; a device that just left shows "0"
in the announcement of its departure.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from kibitz.protocol import ChatError, ErrorCode

from .app_settings import AppSettingsService
from .events import DeviceOffline, DeviceOnline, EventBus, PresenceNotify
from .models import App
from .ports import Clock
from .sessions import SessionService

__all__ = [
    "MAX_EXPIRY_S",
    "MAX_EXT_BYTES",
    "MAX_PER_CALL",
    "PresenceService",
    "PresenceState",
    "PresenceStore",
    "PresenceView",
    "Subscription",
]

log = logging.getLogger(__name__)

MAX_PER_CALL: Final = 100
MAX_EXPIRY_S: Final = 30 * 86_400
MAX_EXT_BYTES: Final = 1_024
MAX_STATUS_CHARS: Final = 32
MAX_PAGE_SIZE: Final = 500
FANOUT_CHUNK: Final = 200
MAX_PENDING: Final = 10_000
PARALLEL: Final = 4  # announcements under way at once (each a few queries)
_EXPIRY_MARK: Final = "\u0000expiry\u0000"  # where each subscriber's own expiry goes


@dataclass(frozen=True, slots=True)
class PresenceState:
    """What is stored of a user's presence."""

    ext: str = ""
    statuses: Mapping[str, str] = field(default_factory=dict)  # resource → published
    last_ms: int = 0


@dataclass(frozen=True, slots=True)
class Subscription:
    username: str
    expires_ms: int


@dataclass(frozen=True, slots=True)
class PresenceView:
    """One user's presence as Agora answers it: ``{uid, last_time, expiry, ext, status}``."""

    uid: str
    last_ms: int
    expires_ms: int
    ext: str
    status: Mapping[str, str]

    def as_json(self) -> dict[str, object]:
        return {
            "uid": self.uid,
            "last_time": str(self.last_ms // 1000),
            "expiry": str(self.expires_ms // 1000),
            "ext": self.ext,
            "status": dict(self.status),
        }


class PresenceStore(Protocol):
    async def app_key(self, app_pk: str) -> str | None: ...

    async def publish(
        self,
        app_pk: str,
        username: str,
        resource: str,
        status: str,
        ext: str,
        keep: Collection[str],
        now_ms: int,
    ) -> bool:
        """Store the description and ``resource``'s status (dropping the statuses of
        resources not in ``keep``); False for an unknown user."""
        ...

    async def touch(self, app_pk: str, username: str, now_ms: int, drop: Collection[str]) -> None:
        """A device came or went: the user's presence changed now; forget the statuses
        ``drop``'s resources published."""
        ...

    async def states(self, app_pk: str, usernames: Sequence[str]) -> dict[str, PresenceState]:
        """The presence of those of ``usernames`` that exist (a default state if none)."""
        ...

    async def subscribe(
        self,
        app_pk: str,
        subscriber: str,
        targets: Sequence[str],
        expires_ms: int,
        now_ms: int,
        limit: int,
    ) -> list[str] | None:
        """Subscribe (or renew) to those of ``targets`` that exist, in one transaction,
        first forgetting the subscriber's expired ones; past ``limit`` the ones ending
        soonest (before ``expires_ms``) make room. Answers the targets subscribed; None
        (nothing written) when even that cannot make room."""
        ...

    async def unsubscribe(self, app_pk: str, subscriber: str, targets: Sequence[str]) -> None: ...

    async def subscriptions(
        self, app_pk: str, subscriber: str, now_ms: int, offset: int, limit: int
    ) -> tuple[int, list[Subscription]]:
        """How many live subscriptions in all, and one page of them (by username)."""
        ...

    async def expiries(
        self, app_pk: str, subscriber: str, targets: Sequence[str], now_ms: int
    ) -> dict[str, int]: ...

    async def subscribers(self, app_pk: str, target: str, now_ms: int) -> list[Subscription]:
        """Who follows ``target`` now (and until when)."""
        ...


@dataclass(slots=True)
class _Change:
    departed: set[str] = field(default_factory=set)
    touch: bool = False


class PresenceService:
    def __init__(
        self,
        store: PresenceStore,
        sessions: SessionService,
        bus: EventBus,
        settings: AppSettingsService,
        clock: Clock,
        *,
        chunk: int = FANOUT_CHUNK,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._store = store
        self._sessions = sessions
        self._bus = bus
        self._settings = settings
        self._clock = clock
        self._chunk = chunk
        self._max_pending = max_pending
        self._pending: dict[tuple[str, str], _Change] = {}
        self._worker: asyncio.Task[None] | None = None
        self._app_keys: dict[str, str] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    # -- the REST side -----------------------------------------------------------------------

    async def _require(self, app: App) -> int:
        settings = await self._settings.get(app.id)
        if not settings.presence:
            # The SDK reads 403 "…service not open!" as SERVICE_NOT_ENABLED (505).
            raise ChatError(
                ErrorCode.SERVICE_NOT_ENABLED, "the app not open presence, service not open!"
            )
        return settings.presence_subscriptions

    async def publish(self, app: App, username: str, resource: str, status: str, ext: str) -> None:
        await self._require(app)
        if len(ext.encode()) > MAX_EXT_BYTES:
            raise ChatError(ErrorCode.PRESENCE_PARAM_LENGTH_EXCEED, "ext is too big ")
        if not status or len(status) > MAX_STATUS_CHARS or not resource:
            raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "set presence failed")
        live = {d.resource for d in await self._sessions.devices(app.id, username)}
        now = self._clock.now_ms()
        if not await self._store.publish(
            app.id, username, resource, status, ext, live | {resource}, now
        ):
            raise ChatError(ErrorCode.USER_NOT_FOUND, f"username {username} doesn't exist")
        self._queue(app.id, username, _Change())

    async def subscribe(
        self, app: App, username: str, targets: Sequence[str], expiry_s: int
    ) -> list[PresenceView]:
        """Subscribe to ``targets`` for ``expiry_s`` seconds; their presence now."""
        limit = await self._require(app)
        wanted = _targets(targets, "too many sub presence")
        if username in wanted:
            raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "you can't sub yourself")
        if not 0 < expiry_s <= MAX_EXPIRY_S:
            raise ChatError(
                ErrorCode.USER_ILLEGAL_ARGUMENT, f"expiry is 1 to {MAX_EXPIRY_S} seconds"
            )
        now = self._clock.now_ms()
        expires = now + expiry_s * 1000
        done = await self._store.subscribe(app.id, username, wanted, expires, now, limit)
        if done is None:
            raise ChatError(
                ErrorCode.EXCEED_SERVICE_LIMIT, f"too many sub presence (at most {limit})"
            )
        return await self._views(app.id, done, {t: expires for t in done})

    async def unsubscribe(self, app: App, username: str, targets: Sequence[str]) -> None:
        await self._require(app)
        await self._store.unsubscribe(
            app.id, username, _targets(targets, "too many unsub presences")
        )

    async def subscriptions(
        self, app: App, username: str, page_num: int, page_size: int
    ) -> tuple[int, list[Subscription]]:
        await self._require(app)
        if page_num < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ChatError(
                ErrorCode.USER_ILLEGAL_ARGUMENT,
                f"pageNum ≥ 1 and pageSize 1 to {MAX_PAGE_SIZE}",
            )
        now = self._clock.now_ms()
        return await self._store.subscriptions(
            app.id, username, now, (page_num - 1) * page_size, page_size
        )

    async def statuses(self, app: App, username: str, targets: Sequence[str]) -> list[PresenceView]:
        """The presence of ``targets`` (no subscription needed; ``expiry`` is the caller's
        subscription to each, 0 without one)."""
        await self._require(app)
        wanted = _targets(targets, "too many get presences")
        now = self._clock.now_ms()
        expiries = await self._store.expiries(app.id, username, wanted, now)
        return await self._views(app.id, wanted, expiries)

    async def _views(
        self, app_pk: str, usernames: Sequence[str], expiries: Mapping[str, int]
    ) -> list[PresenceView]:
        states = await self._store.states(app_pk, usernames)
        found = [u for u in usernames if u in states]
        devices = await asyncio.gather(*(self._sessions.devices(app_pk, u) for u in found))
        return [
            _view(u, states[u], [d.resource for d in live], expiries.get(u, 0))
            for u, live in zip(found, devices, strict=True)
        ]

    # -- changes: the bus's DeviceOnline/DeviceOffline of this node, and publishes ----------

    def devices_online(self, events: Sequence[DeviceOnline]) -> None:
        for e in events:
            if e.node == self._sessions.node:  # the node where it happened tells
                self._queue(e.app_pk, e.username, _Change(touch=True))

    def devices_offline(self, events: Sequence[DeviceOffline]) -> None:
        for e in events:
            if e.node == self._sessions.node:
                self._queue(e.app_pk, e.username, _Change({e.resource}, touch=True))

    def _queue(self, app_pk: str, username: str, change: _Change) -> None:
        key = (app_pk, username)
        pending = self._pending.get(key)
        if pending is not None:
            pending.departed |= change.departed
            pending.touch = pending.touch or change.touch
        elif len(self._pending) >= self._max_pending:
            log.warning("presence: %d changes waiting, one dropped", len(self._pending))
            return
        else:
            self._pending[key] = change
        if self._worker is None or self._worker.done():
            self._idle.clear()
            self._worker = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        """Announce what waits, ``PARALLEL`` users at a time (a user is never announced
        twice at once: a change arriving meanwhile waits for a later round)."""
        try:
            while self._pending:
                batch: list[tuple[tuple[str, str], _Change]] = []
                while self._pending and len(batch) < PARALLEL:
                    key = next(iter(self._pending))
                    batch.append((key, self._pending.pop(key)))
                await asyncio.gather(*(self._announce_logged(k, c) for k, c in batch))
        finally:
            self._idle.set()

    async def _announce_logged(self, key: tuple[str, str], change: _Change) -> None:
        try:
            async with asyncio.timeout(30.0):
                await self._announce(*key, change)
        except Exception:
            log.warning("presence: a change could not be announced", exc_info=True)

    async def settled(self, within_s: float = 10.0) -> None:
        """Wait until every change queued so far is announced (tests, shutdown)."""
        async with asyncio.timeout(within_s):
            await self._idle.wait()

    async def aclose(self) -> None:
        try:
            await self.settled(5.0)
        except TimeoutError:
            if self._worker is not None:
                self._worker.cancel()

    async def _announce(self, app_pk: str, username: str, change: _Change) -> None:
        if not (await self._settings.get(app_pk)).presence:
            return
        now = self._clock.now_ms()
        if change.touch:
            await self._store.touch(app_pk, username, now, change.departed)
        followers = await self._store.subscribers(app_pk, username, now)
        if not followers:
            return
        app_key = await self._app_key(app_pk)
        if app_key is None:
            return
        states = await self._store.states(app_pk, [username])
        if username not in states:
            return
        live = [d.resource for d in await self._sessions.devices(app_pk, username)]
        view = _view(username, states[username], live, 0, departed=change.departed)
        payload = {
            "type": "presence",
            "data": {"values": [{**view.as_json(), "expiry": _EXPIRY_MARK}]},
        }
        head, _, tail = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).partition(
            json.dumps(_EXPIRY_MARK)
        )
        for i in range(0, len(followers), self._chunk):
            part = followers[i : i + self._chunk]
            event = PresenceNotify(
                app_pk,
                app_key,
                username,
                head,
                tail,
                tuple(s.username for s in part),
                tuple(s.expires_ms // 1000 for s in part),
            )
            await self._bus.publish([event])
            await asyncio.sleep(0)  # the loop serves others between chunks

    async def _app_key(self, app_pk: str) -> str | None:
        key = self._app_keys.get(app_pk)
        if key is None:
            key = await self._store.app_key(app_pk)
            if key is not None:
                self._app_keys[app_pk] = key
        return key


def _targets(targets: Sequence[str], too_many: str) -> list[str]:
    wanted = list(dict.fromkeys(targets))
    if not wanted:
        raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "usernames must name a user")
    if len(wanted) > MAX_PER_CALL:
        raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, too_many)
    return wanted


def _view(
    uid: str,
    state: PresenceState,
    live: Sequence[str],
    expires_ms: int,
    departed: Collection[str] = (),
) -> PresenceView:
    status = {r: state.statuses.get(r, "1") for r in live}
    for resource in departed:
        status.setdefault(resource, "0")
    return PresenceView(uid, state.last_ms, expires_ms, state.ext, status)
