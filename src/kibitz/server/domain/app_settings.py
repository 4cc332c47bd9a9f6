"""Per-app settings: Agora's plan limits and service switches, stored, changeable live.

Every limit a feature enforces per app is read here (``await settings.get(app_pk)``), never
from the process settings, so an operator can change it without a restart. An app stores
only what it overrides; a read fills the rest from the defaults in ``SETTINGS``. Each node
keeps the resolved settings of the apps it serves in memory; a change is written, then
announced (``AppSettingsChanged``) so that every node forgets its copy. A copy also expires
after ``ttl_ms`` (5 s), so a change written by another process without a bus (``kibitz app
settings`` beside a one-node server) is in force within that time.

Defaults follow Agora (agora-rest.md §8); where Agora's plans differ, the default is the
largest plan's limit, since a self-hosted server has no plan to upsell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

from kibitz.protocol import ChatError, ErrorCode

from .events import AppSettingsChanged, EventBus
from .ports import Clock

__all__ = [
    "SETTINGS",
    "AppSettings",
    "AppSettingsReader",
    "AppSettingsService",
    "AppSettingsStore",
    "QuotaReached",
    "Setting",
]

_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: int | bool
    lo: int = 0
    hi: int = 0
    doc: str = ""

    @property
    def is_switch(self) -> bool:
        return isinstance(self.default, bool)

    def parse(self, raw: object) -> int | bool:
        """A value from JSON or the command line, checked against the range."""
        if self.is_switch:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "false", "on", "off", "1", "0"):
                return raw.lower() in ("true", "on", "1")
            raise _invalid(self.name, "must be true or false")
        if isinstance(raw, bool):
            raise _invalid(self.name, "must be an integer")
        if isinstance(raw, str):
            try:
                raw = int(raw.strip())
            except ValueError:
                raise _invalid(self.name, "must be an integer") from None
        if not isinstance(raw, int):
            raise _invalid(self.name, "must be an integer")
        if not self.lo <= raw <= self.hi:
            raise _invalid(self.name, f"must be between {self.lo} and {self.hi}")
        return raw


def _invalid(name: str, why: str) -> ChatError:
    return ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, f"setting {name} {why}")


def _int(name: str, default: int, lo: int, hi: int, doc: str) -> Setting:
    return Setting(name, default, lo, hi, doc)


def _switch(name: str, default: bool, doc: str) -> Setting:
    return Setting(name, default, doc=doc)


# The table of every setting: its name (the REST/CLI key and the AppSettings field),
# default and range. A feature that needs one appends it here and as a field of
# AppSettings below, with the code that enforces it (no setting is listed before it bites).
SETTINGS: tuple[Setting, ...] = (
    _int("max_users", 1_000_000, 1, 100_000_000, "accounts the app may register"),
    _switch("open_registration", False, "anyone may register one account, no app token"),
    _int("rest_rate_per_s", 100, 1, 1_000_000, "REST calls per second per route (Agora: 100)"),
    _int("message_rate_per_user", 0, 0, 1_000_000, "a user's sends per second (0: no limit)"),
    _int("max_group_users", 5_000, 1, 100_000, "the largest maxusers a group may have"),
    _int("group_offline_messages", 200, 1, 100_000, "a group's messages kept per offline member"),
    _switch("group_read_receipts", False, "members may send read receipts (Agora: off)"),
    _int("group_read_receipt_max_users", 200, 1, 5_000, "largest group with read receipts"),
    _int("contacts_per_user", 10_000, 1, 100_000, "contacts a user may have"),
    _int("blocklist_per_user", 500, 1, 10_000, "users one user may block"),
    _switch("contacts_only", False, "a user may message only their contacts"),
    _int("user_attributes_bytes", 2_048, 16, 65_536, "the size of one user's attributes"),
    _switch("presence", True, "presence: publish, subscribe, events"),
    _int("presence_subscriptions", 3_000, 1, 100_000, "presence subscriptions per user"),
    _int("file_max_bytes", 10 * _MB, 1, 200 * _MB, "the largest attachment, in bytes"),
    _int("file_retention_days", 7, 1, 3_650, "how long attachments are kept"),
)

_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class AppSettings:
    """One app's resolved settings (see ``SETTINGS`` for what each means)."""

    max_users: int = 1_000_000
    open_registration: bool = False
    rest_rate_per_s: int = 100
    message_rate_per_user: int = 0
    max_group_users: int = 5_000
    group_offline_messages: int = 200
    group_read_receipts: bool = False
    group_read_receipt_max_users: int = 200
    contacts_per_user: int = 10_000
    blocklist_per_user: int = 500
    contacts_only: bool = False
    user_attributes_bytes: int = 2_048
    presence: bool = True
    presence_subscriptions: int = 3_000
    file_max_bytes: int = 10 * _MB
    file_retention_days: int = 7

    def as_dict(self) -> dict[str, int | bool]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def require(self, switch: str) -> None:
        """Refuse with SERVICE_NOT_ENABLED (505) when ``switch`` is off for this app."""
        if not getattr(self, switch):
            raise ChatError(ErrorCode.SERVICE_NOT_ENABLED, f"{switch} is not enabled for this app")


class QuotaReached(ChatError):
    """An app's plan limit (registered users, ...): EXCEED_SERVICE_LIMIT, which REST
    answers 429 ``resource_limited`` as Agora does for plan quotas (not the 400 of a
    request over a per-call limit)."""

    def __init__(self, description: str) -> None:
        super().__init__(ErrorCode.EXCEED_SERVICE_LIMIT, description)


class AppSettingsReader(Protocol):
    """What a feature needs of the settings service: the app's current settings."""

    async def get(self, app_pk: str) -> AppSettings: ...


class AppSettingsStore(Protocol):
    async def load(self, app_pk: str) -> dict[str, Any]:
        """The values this app overrides (name → JSON value)."""
        ...

    async def save(self, app_pk: str, values: Mapping[str, int | bool]) -> None:
        """Store these overrides (one transaction); other names stay as they are."""
        ...


def parse_changes(changes: Mapping[str, object]) -> dict[str, int | bool]:
    """Check every name and value before anything is written: one bad entry refuses all."""
    parsed: dict[str, int | bool] = {}
    for name, raw in changes.items():
        setting = _BY_NAME.get(name)
        if setting is None:
            raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, f"unknown setting {name}")
        parsed[name] = setting.parse(raw)
    return parsed


def resolve(stored: Mapping[str, Any]) -> AppSettings:
    """Defaults overlaid with what is stored; a stored value no longer valid (a name that
    was removed, a range that shrank) falls back to the default instead of failing reads."""
    values: dict[str, int | bool] = {}
    for name, raw in stored.items():
        setting = _BY_NAME.get(name)
        if setting is None:
            continue
        try:
            values[name] = setting.parse(raw)
        except ChatError:
            continue
    return AppSettings(**values)  # type: ignore[arg-type]


class AppSettingsService:
    def __init__(
        self, store: AppSettingsStore, bus: EventBus, clock: Clock, ttl_ms: int = 5_000
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._ttl_ms = ttl_ms
        self._cache: dict[str, tuple[int, AppSettings]] = {}  # app → (expires_ms, settings)
        self._generation = 0  # bumped by every change, so a read that raced one is not kept

    async def get(self, app_pk: str) -> AppSettings:
        """The app's settings; from memory after the first read on this node."""
        now = self._clock.now_ms()
        cached = self._cache.get(app_pk)
        if cached is not None and cached[0] > now:
            return cached[1]
        generation = self._generation
        resolved = resolve(await self._store.load(app_pk))
        if generation == self._generation:
            self._cache[app_pk] = (now + self._ttl_ms, resolved)
        return resolved

    async def update(self, app_pk: str, changes: Mapping[str, object]) -> AppSettings:
        """Apply ``changes`` (all or none) and tell every node; answers the new settings."""
        parsed = parse_changes(changes)
        if parsed:
            await self._store.save(app_pk, parsed)
            self.forget(app_pk)
            await self._bus.publish([AppSettingsChanged(app_pk)])
        return await self.get(app_pk)

    def settings_changed(self, events: Sequence[AppSettingsChanged]) -> None:
        for event in events:
            self.forget(event.app_pk)

    def forget(self, app_pk: str) -> None:
        self._generation += 1
        self._cache.pop(app_pk, None)
