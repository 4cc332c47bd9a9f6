"""Which sessions are online on this node: app → user → resource → session.

Implements the domain's ``SessionControl`` port, so REST operations (force logout,
password change, deletion, ban) can reach live sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kibitz.protocol import ErrorCode

__all__ = ["LiveSession", "SessionRegistry"]


class LiveSession(Protocol):
    @property
    def resource(self) -> str: ...

    async def kick(self, code: ErrorCode) -> None:
        """Tell the client why, then close. Must not raise."""
        ...

    async def close_for_shutdown(self) -> None:
        """The server is stopping: close cleanly so the client reconnects elsewhere."""
        ...


class SessionRegistry:
    def __init__(self) -> None:
        self._users: dict[tuple[str, str], dict[str, LiveSession]] = {}

    def sessions_of(self, app_pk: str, username: str) -> dict[str, LiveSession]:
        return dict(self._users.get((app_pk, username), {}))

    def add(self, app_pk: str, username: str, session: LiveSession) -> None:
        self._users.setdefault((app_pk, username), {})[session.resource] = session

    def remove(self, app_pk: str, username: str, session: LiveSession) -> None:
        by_resource = self._users.get((app_pk, username))
        if by_resource is None or by_resource.get(session.resource) is not session:
            return
        del by_resource[session.resource]
        if not by_resource:
            del self._users[(app_pk, username)]

    def all_sessions(self) -> list[tuple[str, str, LiveSession]]:
        return [
            (app_pk, username, session)
            for (app_pk, username), by_resource in self._users.items()
            for session in by_resource.values()
        ]

    def count(self) -> int:
        return sum(len(v) for v in self._users.values())

    # -- SessionControl ------------------------------------------------------------------

    def online_users(self, app_pk: str, usernames: Sequence[str]) -> set[str]:
        return {name for name in usernames if self._users.get((app_pk, name))}

    async def kick(
        self, app_pk: str, username: str, code: ErrorCode, resource: str | None = None
    ) -> int:
        targets = self.sessions_of(app_pk, username)
        if resource is not None:
            targets = {resource: targets[resource]} if resource in targets else {}
        for session in targets.values():
            self.remove(app_pk, username, session)
            await session.kick(code)
        return len(targets)
