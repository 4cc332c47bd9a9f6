"""Live devices across the cluster: admission under the device limit, kicks, who is online.

The gateway of each node holds its own connections; the *directory* (one per cluster:
in memory for one node, Redis for many) knows every live device and on which node it is.
A login is admitted by the directory atomically, so the device limit counts every node; a
kick is an event on the bus, acted on by whichever node holds the session. A node that dies
stops renewing its lease, and the directory stops counting its devices once the lease ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from kibitz.protocol import ErrorCode

from .events import DeviceOffline, DeviceOnline, EventBus, KickDevices

__all__ = ["Admitted", "DeviceDirectory", "LiveDevice", "SessionService"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveDevice:
    """One logged-in session of a user, as the cluster knows it."""

    resource: str
    session: str  # unique per connection, cluster-wide
    node: int
    epoch: str = ""  # the node's lease: a device of an earlier life of that node is gone
    device_uuid: str = ""
    device_name: str = ""
    since_ms: int = 0


@dataclass(frozen=True, slots=True)
class Admitted:
    replaced: LiveDevice | None  # the same resource, logged in before: it goes quietly
    kicked: tuple[LiveDevice, ...]  # single-device apps: the other sessions are logged out


class DeviceDirectory(Protocol):
    async def admit(
        self, app_pk: str, username: str, device: LiveDevice, max_devices: int
    ) -> Admitted:
        """Apply ``devices.admit`` to the user's live devices and record ``device``, as one
        atomic step; raises ChatError(USER_LOGIN_TOO_MANY_DEVICES)."""
        ...

    async def leave(self, app_pk: str, username: str, resource: str, session: str) -> bool:
        """Forget that session (not a newer one on the same resource); True if it was known."""
        ...

    async def drop(self, app_pk: str, username: str, resources: Collection[str] | None) -> int:
        """Forget the user's devices (all, or those resources) at once; how many."""
        ...

    async def devices(self, app_pk: str, username: str) -> list[LiveDevice]: ...

    async def online(self, app_pk: str, usernames: Sequence[str]) -> set[str]: ...

    async def forget_node(self, node: int) -> None:
        """A clean stop: every device of that node is gone now, not at lease expiry."""
        ...


class SessionService:
    """The domain's ``SessionControl``: REST and the gateway ask here, never a registry."""

    def __init__(self, directory: DeviceDirectory, bus: EventBus, node: int = 0) -> None:
        self._directory = directory
        self._bus = bus
        self.node = node
        self.epoch = ""  # the node's lease, once it has one (a cluster)
        self._leaving: set[asyncio.Task[None]] = set()

    # -- the gateway's side ----------------------------------------------------------------

    async def admit(
        self,
        app_pk: str,
        username: str,
        device: LiveDevice,
        max_devices: int,
        reason: str = "",
    ) -> Admitted:
        """Admit a login (raises ChatError when refused); the sessions it replaces or logs
        out are told so on whichever node they are."""
        admitted = await self._directory.admit(app_pk, username, device, max_devices)
        kicks = [
            KickDevices(
                app_pk,
                username,
                int(ErrorCode.USER_LOGIN_ANOTHER_DEVICE),
                resource=old.resource,
                session=old.session,
                reason=reason,
            )
            for old in [*([admitted.replaced] if admitted.replaced else []), *admitted.kicked]
        ]
        online = DeviceOnline(app_pk, username, device.resource, device.node)
        # The devices a single-device login logs out are offline from now on (a replaced
        # one is not: its resource is online again).
        gone = [DeviceOffline(app_pk, username, d.resource, self.node) for d in admitted.kicked]
        await self._bus.publish([*kicks, *gone, online])
        return admitted

    async def leave(self, app_pk: str, username: str, resource: str, session: str) -> None:
        if await self._directory.leave(app_pk, username, resource, session):
            await self._bus.publish([DeviceOffline(app_pk, username, resource, self.node)])

    def leave_soon(self, app_pk: str, username: str, resource: str, session: str) -> None:
        """``leave`` from synchronous code (a connection's close); the task is ours."""
        task = asyncio.get_running_loop().create_task(
            self._leave_logged(app_pk, username, resource, session)
        )
        self._leaving.add(task)
        task.add_done_callback(self._leaving.discard)

    async def _leave_logged(self, app_pk: str, username: str, resource: str, session: str) -> None:
        try:
            async with asyncio.timeout(10.0):
                await self.leave(app_pk, username, resource, session)
        except Exception:  # the lease ends the device's entry anyway
            log.warning("could not remove a device from the directory", exc_info=True)

    async def aclose(self) -> None:
        """Wait for pending departures, then drop what is left of this node."""
        if self._leaving:
            await asyncio.wait(set(self._leaving), timeout=10.0)
        try:
            async with asyncio.timeout(5.0):
                await self._directory.forget_node(self.node)
        except Exception:
            log.warning("could not drop this node's devices; they expire with its lease")

    # -- SessionControl ------------------------------------------------------------------

    async def online_users(self, app_pk: str, usernames: Sequence[str]) -> set[str]:
        return await self._directory.online(app_pk, usernames)

    async def devices(self, app_pk: str, username: str) -> list[LiveDevice]:
        return sorted(await self._directory.devices(app_pk, username), key=lambda d: d.resource)

    async def kick(
        self, app_pk: str, username: str, code: ErrorCode, resource: str | None = None
    ) -> int:
        """Log the user's sessions out (one resource, or all) wherever they are; returns
        how many. They stop counting against the device limit at once."""
        leaving = [
            DeviceOffline(app_pk, username, d.resource, self.node)
            for d in await self._directory.devices(app_pk, username)
            if resource is None or d.resource == resource
        ]
        count = await self._directory.drop(
            app_pk, username, None if resource is None else [resource]
        )
        kick = KickDevices(app_pk, username, int(code), resource=resource)
        await self._bus.publish([kick, *leaving])  # the session's own leave finds it gone
        return count
