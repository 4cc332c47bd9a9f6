"""Per-app settings: every name checked, all-or-none changes, defaults that match the table,
and a node that forgets its copy when another node announces a change."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import pytest

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.bus.local import LocalBus
from kibitz.server.domain.app_settings import SETTINGS, AppSettings, AppSettingsService, resolve
from kibitz.server.domain.events import AppSettingsChanged

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_000

    def now_ms(self) -> int:
        return self.now


class MemoryStore:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.loads = 0

    async def load(self, app_pk: str) -> dict[str, Any]:
        self.loads += 1
        return dict(self.rows.get(app_pk, {}))

    async def save(self, app_pk: str, values: Mapping[str, int | bool]) -> None:
        self.rows.setdefault(app_pk, {}).update(values)


def test_the_table_and_the_record_agree() -> None:
    defaults = AppSettings().as_dict()
    assert [s.name for s in SETTINGS] == [f.name for f in fields(AppSettings)]
    for setting in SETTINGS:
        assert defaults[setting.name] == setting.default, setting.name
        if not setting.is_switch:
            assert setting.lo <= int(setting.default) <= setting.hi, setting.name


async def test_changes_apply_and_survive_a_fresh_read() -> None:
    store = MemoryStore()
    service = AppSettingsService(store, LocalBus(), Clock())
    new = await service.update("a1", {"contacts_only": "true", "group_offline_messages": "600"})
    assert new.contacts_only is True and new.group_offline_messages == 600
    fresh = AppSettingsService(store, LocalBus(), Clock())
    assert (await fresh.get("a1")).group_offline_messages == 600
    assert (await fresh.get("a2")) == AppSettings()  # another app keeps the defaults


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"no_such_thing": 1}, "unknown setting no_such_thing"),
        ({"group_offline_messages": 0}, "group_offline_messages must be between 1 and 100000"),
        ({"file_max_bytes": 300 * 1024 * 1024}, "file_max_bytes must be between"),
        ({"contacts_only": 3}, "contacts_only must be true or false"),
        ({"blocklist_per_user": True}, "blocklist_per_user must be an integer"),
        ({"blocklist_per_user": "many"}, "blocklist_per_user must be an integer"),
        ({"blocklist_per_user": 1.5}, "blocklist_per_user must be an integer"),
    ],
)
async def test_a_bad_entry_names_the_setting_and_changes_nothing(
    changes: dict[str, Any], named: str
) -> None:
    store = MemoryStore()
    service = AppSettingsService(store, LocalBus(), Clock())
    with pytest.raises(ChatError) as caught:
        await service.update("a1", {"presence": False, **changes})
    assert caught.value.code is ErrorCode.USER_ILLEGAL_ARGUMENT
    assert named in str(caught.value)
    assert store.rows == {}
    assert (await service.get("a1")).presence is True


async def test_reads_come_from_memory_until_a_node_announces_a_change() -> None:
    store = MemoryStore()
    bus = LocalBus()
    here, there = AppSettingsService(store, bus, Clock()), AppSettingsService(store, bus, Clock())
    bus.subscribe(AppSettingsChanged, here.settings_changed)
    bus.subscribe(AppSettingsChanged, there.settings_changed)
    assert (await there.get("a1")).presence is True
    loads = store.loads
    await there.get("a1")
    assert store.loads == loads  # cached
    await here.update("a1", {"presence": False})
    assert (await there.get("a1")).presence is False


async def test_a_change_written_without_the_bus_is_seen_once_the_copy_expires() -> None:
    store, clock = MemoryStore(), Clock()
    service = AppSettingsService(store, LocalBus(), clock, ttl_ms=5_000)
    assert (await service.get("a1")).contacts_only is False
    await store.save("a1", {"contacts_only": True})  # another process, no bus
    clock.now += 4_999
    assert (await service.get("a1")).contacts_only is False
    clock.now += 1
    assert (await service.get("a1")).contacts_only is True


def test_a_stored_value_no_longer_valid_falls_back_to_its_default() -> None:
    resolved = resolve({"group_offline_messages": 10**9, "gone_setting": 4, "presence": False})
    assert resolved.group_offline_messages == 200 and resolved.presence is False


def test_a_switched_off_service_is_refused_with_505() -> None:
    with pytest.raises(ChatError) as caught:
        AppSettings(presence=False).require("presence")
    assert caught.value.code is ErrorCode.SERVICE_NOT_ENABLED
    AppSettings().require("presence")
