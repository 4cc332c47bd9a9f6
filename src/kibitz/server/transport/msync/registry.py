"""Which sessions are live on this node: app → user → resource → session, and by session id.

The cluster-wide truth about devices (admission, the device limit, who is online) is the
domain's device directory; this index only finds *this node's* connections for what the
bus brings: pull notices to deliver, kicks to carry out. A kick names a user (all of its
sessions, or one resource) or exactly one session (the one a new login replaced), so a
kick meant for an old connection never hits the new one on the same resource.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from kibitz.protocol import ErrorCode
from kibitz.server.domain.events import AppDisabled, KickDevices
from kibitz.server.domain.messaging import Notice

from .frames import notice_frame

__all__ = ["LiveSession", "SessionRegistry"]

log = logging.getLogger(__name__)


class LiveSession(Protocol):
    @property
    def resource(self) -> str: ...

    @property
    def session_id(self) -> str: ...

    async def kick(self, code: ErrorCode, reason: str = "") -> None:
        """Tell the client why, then close. Must not raise."""
        ...

    async def close_for_shutdown(self) -> None:
        """The server is stopping: close cleanly so the client reconnects elsewhere."""
        ...

    def notify(self, queue: str, frame: bytes) -> None:
        """Something new waits in ``queue``; ``frame`` is the NOTICE to send. Never blocks."""
        ...


class SessionRegistry:
    def __init__(self) -> None:
        self._users: dict[tuple[str, str], dict[str, LiveSession]] = {}
        self._by_id: dict[str, tuple[str, str, LiveSession]] = {}
        self._kicking: set[asyncio.Task[None]] = set()

    def sessions_of(self, app_pk: str, username: str) -> dict[str, LiveSession]:
        return dict(self._users.get((app_pk, username), {}))

    def resources(self, app_pk: str, username: str) -> list[str]:
        return list(self._users.get((app_pk, username), {}))

    def add(self, app_pk: str, username: str, session: LiveSession) -> LiveSession | None:
        """Index a session; returns the one it displaced on the same resource, if any
        (already out of the index)."""
        by_resource = self._users.setdefault((app_pk, username), {})
        old = by_resource.get(session.resource)
        if old is not None:
            self._by_id.pop(old.session_id, None)
        by_resource[session.resource] = session
        self._by_id[session.session_id] = (app_pk, username, session)
        return old

    def remove(self, app_pk: str, username: str, session: LiveSession) -> None:
        by_resource = self._users.get((app_pk, username))
        if by_resource is None or by_resource.get(session.resource) is not session:
            return
        del by_resource[session.resource]
        self._by_id.pop(session.session_id, None)
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
        """Hand each notice to the sessions it names. A NOTICE is encoded once per queue
        (a group message's notices all name the group's queue: one encoding, not one per
        member)."""
        users = self._users
        frames: dict[tuple[str, str, str], bytes] = {}
        for n in notices:
            by_resource = users.get((n.app_pk, n.username))
            if not by_resource:
                continue
            which = (n.app_key, n.queue, n.queue_resource)
            frame = frames.get(which)
            if frame is None:
                frame = frames[which] = notice_frame(*which)
            # A copy: notify may close a session (a full outbox), which takes it out of
            # this very dict.
            for resource, session in tuple(by_resource.items()):
                if resource != n.skip_resource:
                    session.notify(n.queue, frame)

    def on_kick(self, kicks: Sequence[KickDevices]) -> None:
        """Carry out the kicks that name sessions of this node (each in its own task:
        a kick lingers a moment before it closes, see Connection.kick)."""
        for k in kicks:
            for session in self._targets(k):
                self.remove(k.app_pk, k.username, session)
                task = asyncio.get_running_loop().create_task(
                    session.kick(ErrorCode(k.code), k.reason)
                )
                self._kicking.add(task)
                task.add_done_callback(self._kicking.discard)

    def _targets(self, k: KickDevices) -> list[LiveSession]:
        if k.session is not None:
            found = self._by_id.get(k.session)
            if found is None or found[:2] != (k.app_pk, k.username):
                return []
            return [found[2]]
        live = self._users.get((k.app_pk, k.username), {})
        if k.resource is not None:
            return [live[k.resource]] if k.resource in live else []
        return list(live.values())

    def apps_disabled(self, events: Sequence[AppDisabled]) -> None:
        """A banned app's sessions on this node close (as for a restart: the SDK comes
        back and its login is refused), each in a task the kicks' wait covers."""
        banned = {e.app_pk for e in events if e.disabled}
        for app_pk, username, session in self.all_sessions():
            if app_pk in banned:
                self.remove(app_pk, username, session)
                task = asyncio.get_running_loop().create_task(session.close_for_shutdown())
                self._kicking.add(task)
                task.add_done_callback(self._kicking.discard)

    async def kicks_done(self) -> None:
        """Wait (at most 5 s) for the kicks under way to have closed their sessions."""
        if self._kicking:
            await asyncio.wait(set(self._kicking), timeout=5.0)
