"""User attributes (Agora's "user info"): what a user says of itself — nickname, avatar,
mail, phone, gender, sign, birth, ext and any other key — as one small key/value object
(agora-rest.md §3.3, agora-protocol-2.md §12).

Set by the user itself (the SDK's token) or the app; read by anyone of the app, ≤ 100 users
at once (more → USERINFO_USERCOUNT_EXCEED, 900). A set merges the given pairs into what is
stored; the result may hold at most the app's ``user_attributes_bytes`` (keys and values
in UTF-8, default 2 KB; more → USERINFO_DATALENGTH_EXCEED, 901, nothing written). Nobody is
told of a change (the Web SDK has no event for it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from kibitz.protocol import ChatError, ErrorCode

from .app_settings import AppSettingsService
from .models import App

__all__ = ["MAX_FETCH", "UserAttributeStore", "UserAttributes", "attributes_size"]

MAX_FETCH: Final = 100
MAX_KEY_BYTES: Final = 64


def attributes_size(values: Mapping[str, str]) -> int:
    """What the limit counts: every key and value, in UTF-8 bytes."""
    return sum(len(k.encode()) + len(v.encode()) for k, v in values.items())


class UserAttributeStore(Protocol):
    async def merge(
        self, app_pk: str, username: str, values: Mapping[str, str], max_bytes: int
    ) -> dict[str, str] | None:
        """Merge ``values`` into the user's attributes in one transaction and return them
        all; None (nothing written) when the result would exceed ``max_bytes``. Raises
        ChatError(USER_NOT_FOUND) for an unknown user."""
        ...

    async def fetch(self, app_pk: str, usernames: Sequence[str]) -> dict[str, dict[str, str]]:
        """The attributes of those of ``usernames`` that have any."""
        ...

    async def delete(self, app_pk: str, username: str) -> bool:
        """Forget all of the user's attributes; True if it had any."""
        ...

    async def capacity(self, app_pk: str) -> int:
        """The bytes all of the app's users' attributes take (as ``attributes_size``)."""
        ...


class UserAttributes:
    def __init__(self, store: UserAttributeStore, settings: AppSettingsService) -> None:
        self._store = store
        self._settings = settings

    async def set(self, app: App, username: str, values: Mapping[str, str]) -> dict[str, str]:
        """Merge ``values`` into ``username``'s attributes; answers the pairs set (what
        Agora's ``data`` echoes)."""
        if not values:
            raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "no attribute to set")
        for key in values:
            if not key or len(key.encode()) > MAX_KEY_BYTES:
                raise ChatError(
                    ErrorCode.USER_ILLEGAL_ARGUMENT, f"a key is 1 to {MAX_KEY_BYTES} bytes"
                )
        limit = (await self._settings.get(app.id)).user_attributes_bytes
        if attributes_size(values) > limit:
            raise _too_large(limit)
        if await self._store.merge(app.id, username, values, limit) is None:
            raise _too_large(limit)
        return dict(values)

    async def get(self, app: App, username: str) -> dict[str, str]:
        """All of one user's attributes ({} if it has none)."""
        return (await self._store.fetch(app.id, [username])).get(username, {})

    async def fetch(
        self, app: App, usernames: Sequence[str], keys: Sequence[str] = ()
    ) -> dict[str, dict[str, str]]:
        """``{user: {key: value}}`` for ≤ 100 users, only ``keys`` if given; a user with
        none of them (or unknown) is left out."""
        wanted = list(dict.fromkeys(usernames))
        if not wanted:
            raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "targets must name a user")
        if len(wanted) > MAX_FETCH:
            raise ChatError(
                ErrorCode.USERINFO_USERCOUNT_EXCEED,
                f"user info of at most {MAX_FETCH} users at once, {len(wanted)} asked",
            )
        found = await self._store.fetch(app.id, wanted)
        if not keys:
            return found
        picked = {u: {k: v[k] for k in keys if k in v} for u, v in found.items()}
        return {u: v for u, v in picked.items() if v}

    async def delete(self, app: App, username: str) -> bool:
        return await self._store.delete(app.id, username)

    async def capacity(self, app: App) -> int:
        return await self._store.capacity(app.id)


def _too_large(limit: int) -> ChatError:
    return ChatError(
        ErrorCode.USERINFO_DATALENGTH_EXCEED,
        f"user attributes are at most {limit} bytes per user",
    )
