"""``client.presence``: publish my status, follow others', hear their changes — over REST
with the logged-in user's own token, as the Web SDK does (agora-protocol-2.md §6)::

    await client.presence.publish("in a meeting")
    now = await client.presence.subscribe(["bob", "carol"], expiry_s=86_400)
    client.presence.add_presence_listener(Watcher())  # on_presence_updated([Presence])

Failures are ``ChatError``s: ``PRESENCE_PARAM_LENGTH_EXCEED`` (1100, a description over
1,024 bytes), ``SERVICE_NOT_ENABLED`` (505, presence is off for the app),
``EXCEED_SERVICE_LIMIT`` (over 100 users in one call, or no room for more
subscriptions), ``USER_ILLEGAL_ARGUMENT`` (following oneself, a bad expiry) …
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import pb

from ._chat import _Seen
from ._group_models import seg
from ._listeners import Dispatcher
from ._presence_events import Presence, PresenceUpdated, presence_of, presences_from_meta

if TYPE_CHECKING:
    from ._client import ChatClient

__all__ = ["Presence", "PresenceManager"]

MAX_EXPIRY_S: Final = 30 * 86_400


class PresenceManager:
    """Presence: ``client.presence.publish(...)`` and friends, and presence listeners."""

    def __init__(self, client: ChatClient, dispatcher: Dispatcher) -> None:
        self._client = client
        self._dispatcher = dispatcher
        self._seen = _Seen()

    # -- listeners -----------------------------------------------------------------------

    def add_presence_listener(self, listener: object) -> None:
        """Register an object with an ``on_presence_updated(presences)`` method."""
        if listener not in self._dispatcher.presence_listeners:
            self._dispatcher.presence_listeners.append(listener)

    def remove_presence_listener(self, listener: object) -> None:
        if listener in self._dispatcher.presence_listeners:
            self._dispatcher.presence_listeners.remove(listener)

    async def _on_metas(self, metas: list[pb.Meta]) -> None:
        """Called for each batch of NOTIFY metas the connection pulled, in order."""
        for meta in metas:
            if not self._seen.add(meta.id):
                continue
            presences = presences_from_meta(meta)
            if presences:
                await self._dispatcher.emit(PresenceUpdated(presences))

    # -- calls ---------------------------------------------------------------------------

    async def publish(self, description: str = "", status: int | str = 1) -> None:
        """Publish my description (and this device's status: 1 online, or a custom one);
        my followers hear it."""
        me, login = self._me()
        path = f"/users/{seg(me)}/presence/{seg(login.resource)}/{seg(str(status))}"
        await self._call("POST", path, json={"ext": description})

    async def subscribe(self, users: Sequence[str], expiry_s: int = MAX_EXPIRY_S) -> list[Presence]:
        """Follow ``users`` (≤ 100) for ``expiry_s`` seconds (≤ 30 days; again renews);
        their presence now. Changes then arrive through the presence listeners."""
        me, _ = self._me()
        body = await self._call(
            "POST", f"/users/{seg(me)}/presence/{int(expiry_s)}", json={"usernames": list(users)}
        )
        return _presences(body)

    async def unsubscribe(self, users: Sequence[str]) -> None:
        me, _ = self._me()
        await self._call("DELETE", f"/users/{seg(me)}/presence", json=list(users))

    async def subscriptions(
        self, page_num: int = 1, page_size: int = 20
    ) -> tuple[int, list[Presence]]:
        """How many users I follow, and one page of them (``user_id`` and ``expiry``)."""
        me, _ = self._me()
        body = await self._call(
            "GET", f"/users/{seg(me)}/presence/sublist", pageNum=page_num, pageSize=page_size
        )
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, dict):
            return 0, []
        page = [
            Presence(user_id=s["uid"], expiry=int(s.get("expiry", 0) or 0))
            for s in result.get("sublist") or []
            if isinstance(s, dict) and isinstance(s.get("uid"), str)
        ]
        total = result.get("totalnum", len(page))
        return int(total), page

    async def fetch(self, users: Sequence[str]) -> list[Presence]:
        """The presence of ``users`` (≤ 100) now; no subscription needed."""
        me, _ = self._me()
        body = await self._call(
            "POST", f"/users/{seg(me)}/presence", json={"usernames": list(users)}
        )
        return _presences(body)

    # -- transport -----------------------------------------------------------------------

    def _me(self) -> tuple[str, Any]:
        me, login = self._client.current_user, self._client._login
        if me is None or login is None:
            raise ChatError(ErrorCode.USER_NOT_LOGIN, "log in first")
        return me, login

    async def _call(self, method: str, path: str, *, json: Any = None, **params: Any) -> Any:
        rest, login = self._client._rest_login()  # USER_NOT_LOGIN before a login
        return await rest.call(method, path, token=login.token, json=json, params=params or None)


def _presences(body: Any) -> list[Presence]:
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, list):
        return []
    return [p for p in map(presence_of, result) if p is not None]
