"""Chat accounts: registration, lookup, passwords, bans and deletion."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final, Protocol

from kibitz.protocol import ChatError, ErrorCode

from .app_settings import AppSettingsReader, QuotaReached
from .events import EventBus, UserChanged
from .models import App, User
from .ports import Clock, PasswordHasher, SessionControl, UserStore

__all__ = ["AccountService", "NewUser", "RegisterResult", "validate_username"]

# Agora: letters, digits, "_", "-", "."; never only dots ("." and ".." are URL path
# segments: "/users/../status" must not name a user), and no trailing newline ("$" allows one).
USERNAME_RE: Final = re.compile(r"^(?!\.+\Z)[a-z0-9_.-]{1,64}\Z")
MAX_PASSWORD_BYTES: Final = 64
MAX_BATCH: Final = 60


def validate_username(username: object) -> str:
    """Agora's rule: 1-64 chars of a-z, 0-9, '_', '-', '.'."""
    if not isinstance(username, str) or not USERNAME_RE.match(username):
        raise ChatError(ErrorCode.INVALID_USER_NAME, f"{username!r} is not a legal username")
    return username


def validate_password(password: object) -> str:
    if not isinstance(password, str) or not password:
        raise ChatError(ErrorCode.INVALID_PASSWORD, "password must be a non-empty string")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ChatError(ErrorCode.INVALID_PASSWORD, "password must be at most 64 bytes")
    return password


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    password: str | None = None
    nickname: str | None = None


@dataclass(frozen=True, slots=True)
class RegisterResult:
    created: list[User]
    failed: list[tuple[str, str]]  # (username, reason): names already taken


class UserRemoval(Protocol):
    """Told before accounts are deleted, to take what goes with them (Agora: the groups
    and rooms a user owns are destroyed with it)."""

    async def users_removing(self, app: App, usernames: Sequence[str]) -> None: ...


class AccountService:
    def __init__(
        self,
        store: UserStore,
        hasher: PasswordHasher,
        clock: Clock,
        sessions: SessionControl,
        bus: EventBus | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self.sessions = sessions
        self._bus = bus
        self.removals: list[UserRemoval] = []  # build_services adds the groups
        self.settings: AppSettingsReader | None = None  # the app's max_users

    async def register(self, app: App, specs: Sequence[NewUser]) -> RegisterResult:
        """Validate everything first; then create the names not taken, all in one write.

        A malformed entry fails the whole batch (nothing is written). A name that is already
        taken is reported per item, as Agora's batch registration does.
        """
        if not specs:
            raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "no users to register")
        if len(specs) > MAX_BATCH:
            raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, f"at most {MAX_BATCH} users per call")
        for spec in specs:
            validate_username(spec.username)
            if spec.password is not None:
                validate_password(spec.password)
            if spec.nickname is not None and len(spec.nickname) > 100:
                raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "nickname is too long")
        taken = await self._store.existing(app.id, [s.username for s in specs])
        failed: list[tuple[str, str]] = []
        fresh: list[NewUser] = []
        seen: set[str] = set()
        for spec in specs:
            if spec.username in taken or spec.username in seen:
                failed.append((spec.username, f"the {spec.username} already exists"))
            else:
                seen.add(spec.username)
                fresh.append(spec)
        if fresh and self.settings is not None:
            limit = (await self.settings.get(app.id)).max_users
            if await self._store.count(app.id) + len(fresh) > limit:
                raise QuotaReached(f"the app may register at most {limit} users")
        now = self._clock.now_ms()
        created = [
            User(
                id=str(uuid.uuid4()),
                app_pk=app.id,
                username=spec.username,
                password_hash=None
                if spec.password is None
                else await self._hasher.hash(spec.password),
                activated=True,
                nickname=spec.nickname,
                created_ms=now,
                modified_ms=now,
            )
            for spec in fresh
        ]
        await self._store.add_many(created)
        return RegisterResult(created=created, failed=failed)

    async def get(self, app: App, username: str) -> User:
        user = await self._store.get(app.id, username)
        if user is None:
            raise ChatError(ErrorCode.USER_NOT_FOUND, f"username {username} doesn't exist")
        return user

    async def find(self, app: App, username: str) -> User | None:
        return await self._store.get(app.id, username)

    async def by_id(self, app: App, user_id: str) -> User | None:
        return await self._store.get_by_id(app.id, user_id)

    async def page(
        self, app: App, limit: int, after: tuple[int, str] | None
    ) -> tuple[list[User], tuple[int, str] | None]:
        """One page and the position after it (None on the last page)."""
        if not 1 <= limit <= 100:
            raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "limit must be between 1 and 100")
        page = await self._store.page(app.id, limit + 1, after)
        if len(page) <= limit:
            return page, None
        page = page[:limit]
        return page, (page[-1].created_ms, page[-1].id)

    async def delete(self, app: App, usernames: Sequence[str]) -> list[User]:
        for removal in self.removals:
            await removal.users_removing(app, usernames)
        deleted = await self._store.delete(app.id, usernames)
        for user in deleted:
            await self.sessions.kick(app.id, user.username, ErrorCode.USER_REMOVED)
        if deleted and self._bus is not None:  # every node forgets what it cached of them
            await self._bus.publish([UserChanged(app.id, u.username) for u in deleted])
        return deleted

    async def set_password(self, app: App, username: str, password: str) -> User:
        validate_password(password)
        user = await self.get(app, username)
        user = replace(
            user,
            password_hash=await self._hasher.hash(password),
            modified_ms=self._clock.now_ms(),
            token_epoch=user.token_epoch + 1,
        )
        await self._store.update(user)
        await self.sessions.kick(app.id, username, ErrorCode.USER_KICKED_BY_CHANGE_PASSWORD)
        return user

    async def set_activated(self, app: App, username: str, activated: bool) -> User:
        user = replace(
            await self.get(app, username), activated=activated, modified_ms=self._clock.now_ms()
        )
        await self._store.update(user)
        if not activated:
            await self.sessions.kick(app.id, username, ErrorCode.USER_PERMISSION_DENIED)
        return user

    async def disconnect(self, app: App, username: str, resource: str | None = None) -> int:
        """Force logout (all devices, or one resource); the user may log in again."""
        await self.get(app, username)
        return await self.sessions.kick(
            app.id, username, ErrorCode.USER_KICKED_BY_OTHER_DEVICE, resource
        )

    async def check_password(self, user: User, password: str) -> bool:
        if user.password_hash is None:
            return False
        return await self._hasher.verify(user.password_hash, password)

    async def online(self, app: App, usernames: Sequence[str]) -> set[str]:
        return await self.sessions.online_users(app.id, usernames)
