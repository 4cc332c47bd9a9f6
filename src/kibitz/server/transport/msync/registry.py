"""Which sessions are online on this node: app → user → resource → session.

Implements the domain's ``SessionControl`` port, so REST operations (force logout,
password change, deletion, ban) can reach live sessions, and delivers the bus's notices
to the sessions they name. Every method that changes the index is synchronous, so a login's
device check and its registration happen without another task running in between.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from kibitz.protocol import ErrorCode
from kibitz.server.domain.devices import admit
from kibitz.server.domain.messaging import Notice

from .frames import notice_frame

__all__ = ["LiveSession", "SessionRegistry"]

log = logging.getLogger(__name__)


class LiveSession(Protocol):
    @property
    def resource(self) -> str: ...

    async def kick(self, code: ErrorCode, reason: str = "") -> None:
        """Tell the client why, then close. Must not raise."""
        ...

    async def close_for_shutdown(self) -> None:
        """The server is stopping: close cleanly so the client reconnects elsewhere."""
        ...

    def notify(self, queue: str, frame: bytes) -> None:
        """Something new waits in ``queue``; ``frame`` is the NOTICE to send. Never blocks."""
        ...

    def describe(self) -> dict[str, str]:
        """``{"res", "device_uuid", "device_name"}`` for the REST device list."""
        ...


class SessionRegistry:
    def __init__(self) -> None:
        self._users: dict[tuple[str, str], dict[str, LiveSession]] = {}

    def sessions_of(self, app_pk: str, username: str) -> dict[str, LiveSession]:
        return dict(self._users.get((app_pk, username), {}))

    def resources(self, app_pk: str, username: str) -> list[str]:
        return list(self._users.get((app_pk, username), {}))

    def add(self, app_pk: str, username: str, session: LiveSession) -> None:
        self._users.setdefault((app_pk, username), {})[session.resource] = session

    def admit(
        self, app_pk: str, username: str, session: LiveSession, max_devices: int
    ) -> tuple[LiveSession | None, list[LiveSession]]:
        """Register a login under the app's device policy (raises ChatError when refused).

        Returns the session it replaces (same resource) and the sessions it logs out
        (single-device apps); both are already out of the index, the caller kicks them.
        """
        online = self._users.get((app_pk, username), {})
        admission = admit(max_devices, list(online), session.resource)
        replaced = online.get(admission.replaces) if admission.replaces else None
        kicked = [online[r] for r in admission.kicks if r in online]
        for old in [*kicked, *([replaced] if replaced else [])]:
            self.remove(app_pk, username, old)
        self.add(app_pk, username, session)
        return replaced, kicked

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

    # -- the bus's local end -------------------------------------------------------------

    def deliver(self, notices: Sequence[Notice]) -> None:
        """Hand each notice to the sessions it names; the NOTICE is encoded once each."""
        for n in notices:
            by_resource = self._users.get((n.app_pk, n.username))
            if not by_resource:
                continue
            frame = notice_frame(n.app_key, n.queue, n.queue_resource)
            for resource, session in list(by_resource.items()):
                if resource != n.skip_resource:
                    session.notify(n.queue, frame)

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
        # In parallel: each kick lingers a moment before it closes (see Connection.kick).
        await asyncio.gather(*(session.kick(code) for session in targets.values()))
        return len(targets)
