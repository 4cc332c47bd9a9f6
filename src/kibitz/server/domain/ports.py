"""What the domain needs from the outside world, as Protocols; adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kibitz.protocol import ErrorCode

from .models import App, User

__all__ = ["AppStore", "Clock", "PasswordHasher", "SessionControl", "UserStore"]


class Clock(Protocol):
    def now_ms(self) -> int:
        """Unix time in milliseconds."""
        ...


class AppStore(Protocol):
    async def add(self, app: App) -> None:
        """Insert; an org#app that is already taken raises ValueError."""
        ...

    async def get_by_name(self, org_name: str, app_name: str) -> App | None: ...
    async def get_by_app_id(self, app_id: str) -> App | None: ...
    async def all_apps(self) -> list[App]: ...
    async def delete(self, app_pk: str) -> bool: ...
    async def set_disabled(self, app_pk: str, disabled: bool) -> bool: ...


class UserStore(Protocol):
    async def add_many(self, users: Sequence[User]) -> None:
        """All or nothing; a username taken meanwhile raises ChatError(USER_ALREADY_EXIST)."""
        ...

    async def get(self, app_pk: str, username: str) -> User | None: ...
    async def get_by_id(self, app_pk: str, user_id: str) -> User | None: ...
    async def existing(self, app_pk: str, usernames: Sequence[str]) -> set[str]: ...
    async def count(self, app_pk: str) -> int: ...

    async def page(self, app_pk: str, limit: int, after: tuple[int, str] | None) -> list[User]:
        """Users by ascending (created_ms, id), strictly after ``after``."""
        ...

    async def delete(self, app_pk: str, usernames: Sequence[str]) -> list[User]: ...
    async def update(self, user: User) -> None: ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...
    async def verify(self, password_hash: str, password: str) -> bool: ...


class SessionControl(Protocol):
    """Live sessions on every node (``sessions.SessionService``): ask who is online, kick."""

    async def online_users(self, app_pk: str, usernames: Sequence[str]) -> set[str]: ...

    async def kick(
        self, app_pk: str, username: str, code: ErrorCode, resource: str | None = None
    ) -> int:
        """Close the user's sessions (one resource, or all) with ``code``; returns how many."""
        ...
