"""Apps (tenants): creation with fresh credentials, and resolution of ``org#app``."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Sequence
from typing import Final

from kibitz.protocol import ChatError, ErrorCode

from .events import AppDisabled, EventBus
from .models import App
from .ports import AppStore, Clock

__all__ = ["AppService"]

_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_CACHE_MS: Final = 5_000  # another process (the CLI) may create or delete apps


class AppService:
    """Owns the app registry. Lookups are cached briefly; the CLI may change apps live."""

    def __init__(
        self,
        store: AppStore,
        clock: Clock,
        default_max_devices: int,
        bus: EventBus | None = None,
    ) -> None:
        self._bus = bus
        self._store = store
        self._clock = clock
        self._default_max_devices = default_max_devices
        self._by_name: dict[tuple[str, str], tuple[int, App | None]] = {}

    async def create(self, org_name: str, app_name: str, max_devices: int | None = None) -> App:
        for label, name in (("org", org_name), ("app", app_name)):
            if not _NAME_RE.match(name):
                raise ChatError(
                    ErrorCode.INVALID_APP_KEY,
                    f"{label} name {name!r} must be 1-64 letters, digits, '-' or '_'",
                )
        app = App(
            id=str(uuid.uuid4()),
            org_name=org_name,
            app_name=app_name,
            client_id="YXA6" + secrets.token_urlsafe(16),
            client_secret="YXA6" + secrets.token_urlsafe(24),
            app_id=secrets.token_hex(16),
            app_certificate=secrets.token_hex(16),
            token_secret=secrets.token_urlsafe(48),
            max_devices=max_devices or self._default_max_devices,
            created_ms=self._clock.now_ms(),
        )
        try:
            await self._store.add(app)
        except ValueError as exc:
            raise ChatError(ErrorCode.INVALID_APP_KEY, f"app {app.app_key} already exists") from exc
        self._by_name.pop((org_name, app_name), None)
        return app

    async def find(self, org_name: str, app_name: str) -> App | None:
        now = self._clock.now_ms()
        cached = self._by_name.get((org_name, app_name))
        if cached is not None and now - cached[0] < _CACHE_MS:
            return cached[1]
        app = await self._store.get_by_name(org_name, app_name)
        if len(self._by_name) > 10_000:
            self._by_name.clear()
        self._by_name[(org_name, app_name)] = (now, app)
        return app

    async def resolve(self, org_name: str, app_name: str) -> App:
        app = await self.find(org_name, app_name)
        if app is None:
            raise ChatError(ErrorCode.INVALID_APP_KEY, f"app {org_name}#{app_name} not found")
        return app

    async def resolve_key(self, app_key: str) -> App:
        org_name, sep, app_name = app_key.partition("#")
        if not sep or not org_name or not app_name:
            raise ChatError(ErrorCode.INVALID_APP_KEY, f"malformed app key {app_key!r}")
        return await self.resolve(org_name, app_name)

    async def by_app_id(self, app_id: str) -> App | None:
        return await self._store.get_by_app_id(app_id)

    async def all_apps(self) -> list[App]:
        return await self._store.all_apps()

    async def set_disabled(self, org_name: str, app_name: str, disabled: bool) -> App:
        """Ban (or restore) an app: its sessions close on every node and its logins and
        REST calls are refused with SERVER_SERVICE_RESTRICTED; nothing stored is lost."""
        app = await self.resolve(org_name, app_name)
        await self._store.set_disabled(app.id, disabled)
        self._by_name.clear()
        if self._bus is not None:
            await self._bus.publish([AppDisabled(app.id, disabled)])
        return await self.resolve(org_name, app_name)

    def apps_changed(self, events: Sequence[AppDisabled]) -> None:
        """Another node banned or restored an app: forget what is cached."""
        if events:
            self._by_name.clear()

    async def delete(self, org_name: str, app_name: str) -> App:
        app = await self.resolve(org_name, app_name)
        await self._store.delete(app.id)
        self._by_name.pop((org_name, app_name), None)
        return app
