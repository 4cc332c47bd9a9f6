"""App-wide mutes: an operator silences a user in 1:1 chats, groups or rooms, for a time.

Agora's ``/mutes`` (agora-rest.md §3.7): per kind a duration in seconds, ``-1`` for ever,
``0`` to lift it. A muted user's sends of that kind from a device are refused with
USER_MUTED (the Web SDK's "user is mute"); the app's own REST sends are not muted. Every
node keeps an app's mutes in memory (an app mutes few users) and forgets them when any
node announces a change (``MutesChanged``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from kibitz.protocol import ChatError, ErrorCode

from .delivery import Sender, TargetKind
from .events import EventBus, MutesChanged
from .models import App
from .ports import Clock

__all__ = ["FOREVER", "KINDS", "GlobalMute", "GlobalMuteStore", "GlobalMutes"]

FOREVER: Final = -1
MAX_SECONDS: Final = 2_147_483_647
KINDS: Final = ("chat", "groupchat", "chatroom")
_KIND_OF: Final = {
    TargetKind.USER: "chat",
    TargetKind.GROUP: "groupchat",
    TargetKind.THREAD: "groupchat",
    TargetKind.ROOM: "chatroom",
}


@dataclass(frozen=True, slots=True)
class GlobalMute:
    """Until when (epoch ms) each kind is muted: 0 not muted, -1 for ever."""

    username: str
    chat: int = 0
    groupchat: int = 0
    chatroom: int = 0

    def until(self, kind: str) -> int:
        value: int = getattr(self, kind)
        return value

    def active(self, kind: str, now_ms: int) -> bool:
        until = self.until(kind)
        return until == FOREVER or until > now_ms

    def remaining_s(self, kind: str, now_ms: int) -> int:
        """Agora's answer: seconds left, -1 for ever, 0 when not muted."""
        until = self.until(kind)
        if until == FOREVER:
            return FOREVER
        return max(0, -(-(until - now_ms) // 1000))


class GlobalMuteStore(Protocol):
    async def all(self, app_pk: str) -> list[GlobalMute]: ...

    async def put(self, app_pk: str, user_id: str, mute: GlobalMute) -> None:
        """Store the user's mutes (all kinds 0: forget the user)."""
        ...


class UserIds(Protocol):
    async def user_ids(self, app_pk: str, usernames: Sequence[str]) -> dict[str, str]: ...


class GlobalMutes:
    def __init__(self, store: GlobalMuteStore, users: UserIds, bus: EventBus, clock: Clock) -> None:
        self._store = store
        self._users = users
        self._bus = bus
        self._clock = clock
        self._apps: dict[str, dict[str, GlobalMute]] = {}
        self._generation = 0

    async def _of(self, app_pk: str) -> dict[str, GlobalMute]:
        cached = self._apps.get(app_pk)
        if cached is not None:
            return cached
        generation = self._generation
        loaded = {m.username: m for m in await self._store.all(app_pk)}
        if generation == self._generation:
            self._apps[app_pk] = loaded
        return loaded

    async def check(self, sender: Sender, kind: TargetKind) -> None:
        """Refuse a device's send of ``kind`` while its user is muted for it."""
        if not sender.resource:
            return  # the app's own send (REST), not a device's
        mutes = await self._of(sender.app.id)
        mute = mutes.get(sender.username) if mutes else None
        if mute is not None and mute.active(_KIND_OF[kind], self._clock.now_ms()):
            raise ChatError(ErrorCode.USER_MUTED, "user is mute")

    async def set(self, app: App, username: str, seconds: dict[str, int]) -> None:
        """Mute (or, with 0, unmute) ``username`` for the kinds given, in seconds."""
        user_id = (await self._users.user_ids(app.id, [username])).get(username)
        if user_id is None:
            raise ChatError(ErrorCode.USER_NOT_FOUND, f"username {username} doesn't exist!")
        now = self._clock.now_ms()
        current = (await self._of(app.id)).get(username, GlobalMute(username))
        changes: dict[str, int] = {}
        for kind, value in seconds.items():
            if kind not in KINDS:
                continue
            if not FOREVER <= value <= MAX_SECONDS:
                raise ChatError(
                    ErrorCode.USER_ILLEGAL_ARGUMENT,
                    f"{kind} must be -1, 0 or a number of seconds up to {MAX_SECONDS}",
                )
            changes[kind] = value if value <= 0 else now + value * 1000
        if not changes:
            raise ChatError(
                ErrorCode.USER_ILLEGAL_ARGUMENT, "give chat, groupchat or chatroom in seconds"
            )
        updated = GlobalMute(
            username,
            changes.get("chat", current.chat),
            changes.get("groupchat", current.groupchat),
            changes.get("chatroom", current.chatroom),
        )
        await self._store.put(app.id, user_id, updated)
        self.forget(app.id)
        await self._bus.publish([MutesChanged(app.id)])

    async def get(self, app: App, username: str) -> GlobalMute:
        user_id = (await self._users.user_ids(app.id, [username])).get(username)
        if user_id is None:
            raise ChatError(ErrorCode.USER_NOT_FOUND, f"username {username} doesn't exist!")
        return (await self._of(app.id)).get(username, GlobalMute(username))

    async def muted(self, app: App) -> list[GlobalMute]:
        """The users muted now for some kind, by name."""
        now = self._clock.now_ms()
        mutes = (await self._of(app.id)).values()
        live = [m for m in mutes if any(m.active(k, now) for k in KINDS)]
        return sorted(live, key=lambda m: m.username)

    def now_ms(self) -> int:
        return self._clock.now_ms()

    def mutes_changed(self, events: Sequence[MutesChanged]) -> None:
        for event in events:
            self.forget(event.app_pk)

    def forget(self, app_pk: str) -> None:
        self._generation += 1
        self._apps.pop(app_pk, None)
