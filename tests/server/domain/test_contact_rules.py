"""What a 1:1 send asks of contacts (``ContactRules``): block lists and, with the app's
``contacts_only``, the sender's contacts — read once per user and node, forgotten on
``ContactsChanged`` (from any node), bounded; the app's own sends are never refused."""

from __future__ import annotations

from typing import Any

import pytest

from kibitz.protocol import ErrorCode
from kibitz.server.domain.app_settings import AppSettings
from kibitz.server.domain.contacts import ContactRules
from kibitz.server.domain.delivery import Sender
from kibitz.server.domain.events import ContactsChanged
from kibitz.server.domain.models import App

pytestmark = pytest.mark.anyio

APP = App("app", "acme", "chat", "c", "s", "0" * 32, "0" * 32, "t", 4, 1)


class Store:
    """Only what the rules read; counts the reads."""

    def __init__(self) -> None:
        self.blocks: dict[str, set[str]] = {}
        self.friends: dict[str, set[str]] = {}
        self.reads = 0

    async def blocked_ids(self, owner: str) -> set[str]:
        self.reads += 1
        return set(self.blocks.get(owner, ()))

    async def contact_ids(self, user_id: str) -> set[str]:
        self.reads += 1
        return set(self.friends.get(user_id, ()))


class Settings:
    def __init__(self) -> None:
        self.values = AppSettings()

    async def get(self, app_pk: str) -> AppSettings:
        return self.values


def rules(store: Store, settings: Settings | None = None, **kw: Any) -> ContactRules:
    return ContactRules(store, settings or Settings(), **kw)  # type: ignore[arg-type]


def alice(resource: str = "web") -> Sender:
    return Sender(APP, "alice", "id-alice", resource)


async def test_a_blocker_refuses_and_the_answer_is_remembered_until_forgotten() -> None:
    store = Store()
    r = rules(store)
    to = {"bob": "id-bob", "carol": "id-carol"}
    assert await r.refusals(alice(), to) == {}
    store.blocks["id-bob"] = {"id-alice"}
    assert await r.refusals(alice(), to) == {}  # remembered: not read again
    assert store.reads == 2
    r.contacts_changed([ContactsChanged(("id-bob",))])  # another node's word
    refused = await r.refusals(alice(), to)
    assert list(refused) == ["bob"]
    assert (refused["bob"].code, refused["bob"].description) == (
        ErrorCode.USER_PERMISSION_DENIED,
        "blocked",
    )
    assert await r.refusals(alice(""), to) == {}  # the app's send: never refused
    assert await r.refusals(alice(), {"alice": "id-alice"}) == {}  # a note to self


async def test_contacts_only_refuses_strangers() -> None:
    store, settings = Store(), Settings()
    store.friends["id-alice"] = {"id-bob"}
    r = rules(store, settings)
    to = {"bob": "id-bob", "carol": "id-carol"}
    assert await r.refusals(alice(), to) == {}
    settings.values = AppSettings(contacts_only=True)
    refused = await r.refusals(alice(), to)
    assert list(refused) == ["carol"] and refused["carol"].code == ErrorCode.USER_NOT_FRIEND
    assert refused["carol"].description == "nonroster"


async def test_the_memory_is_bounded() -> None:
    store = Store()
    r = rules(store, max_users=2)
    for n in range(3):
        await r.refusals(alice(), {f"u{n}": f"id-{n}"})
    reads = store.reads
    await r.refusals(alice(), {"u0": "id-0"})  # evicted first: read again
    assert store.reads == reads + 1
