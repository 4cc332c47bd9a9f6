"""One node: the device directory and the node list in memory."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from kibitz.server.domain.devices import admit
from kibitz.server.domain.nodes import NodeInfo
from kibitz.server.domain.sessions import Admitted, LiveDevice

__all__ = ["LocalDirectory", "LocalNodes"]


class LocalDirectory:
    def __init__(self) -> None:
        self._users: dict[tuple[str, str], dict[str, LiveDevice]] = {}

    async def admit(
        self, app_pk: str, username: str, device: LiveDevice, max_devices: int
    ) -> Admitted:
        live = self._users.setdefault((app_pk, username), {})
        try:
            decision = admit(max_devices, list(live), device.resource)
        except Exception:
            if not live:
                del self._users[(app_pk, username)]
            raise
        replaced = live.pop(decision.replaces) if decision.replaces else None
        kicked = tuple(live.pop(r) for r in decision.kicks if r in live)
        live[device.resource] = device
        return Admitted(replaced, kicked)

    async def leave(self, app_pk: str, username: str, resource: str, session: str) -> bool:
        live = self._users.get((app_pk, username))
        if live is None or resource not in live or live[resource].session != session:
            return False
        del live[resource]
        if not live:
            del self._users[(app_pk, username)]
        return True

    async def drop(self, app_pk: str, username: str, resources: Collection[str] | None) -> int:
        live = self._users.get((app_pk, username))
        if not live:
            return 0
        gone = list(live) if resources is None else [r for r in resources if r in live]
        for r in gone:
            del live[r]
        if not live:
            del self._users[(app_pk, username)]
        return len(gone)

    async def devices(self, app_pk: str, username: str) -> list[LiveDevice]:
        return list(self._users.get((app_pk, username), {}).values())

    async def online(self, app_pk: str, usernames: Sequence[str]) -> set[str]:
        return {name for name in usernames if self._users.get((app_pk, name))}

    async def forget_node(self, node: int) -> None:
        self._users.clear()


class LocalNodes:
    """The node list of a single node: itself."""

    def __init__(self, me: NodeInfo) -> None:
        self._me = me

    async def live(self) -> list[NodeInfo]:
        return [self._me]
