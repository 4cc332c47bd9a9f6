"""``client.user_info``: user attributes (nickname, avatar, …) over REST with the logged-in
user's own token, as the Web SDK does (agora-protocol-2.md §12)::

    await client.user_info.update_own_info(nickname="Alice", avatarurl="https://…/a.png")
    infos = await client.user_info.fetch(["bob", "carol"], ["nickname"])

The set is form-encoded, as the Web SDK sends it. Failures are ``ChatError``s:
``USERINFO_USERCOUNT_EXCEED`` (900, over 100 users in one fetch),
``USERINFO_DATALENGTH_EXCEED`` (901, over the app's size per user, default 2 KB). Nobody
is told of a change (Agora has no event for it), so there is no listener.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from kibitz.protocol import ChatError, ErrorCode

from ._group_models import seg

if TYPE_CHECKING:
    from ._client import ChatClient

__all__ = ["USER_INFO_KEYS", "UserInfoManager"]

# The keys the Web SDK lets an app set (the server takes any key).
USER_INFO_KEYS: Final = ("nickname", "avatarurl", "mail", "phone", "gender", "sign", "birth", "ext")


class UserInfoManager:
    def __init__(self, client: ChatClient) -> None:
        self._client = client

    async def update_own_info(
        self, values: Mapping[str, str | int] | None = None, **more: str | int
    ) -> dict[str, str]:
        """Set my attributes (the others stay); answers what was set."""
        pairs = {k: str(v) for k, v in {**(values or {}), **more}.items()}
        if not pairs:
            raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "no attribute to set")
        body = await self._call("PUT", f"/metadata/user/{seg(self._me())}", form=pairs)
        return _pairs(body.get("data") if isinstance(body, dict) else None)

    async def fetch(
        self, users: Sequence[str], keys: Sequence[str] = ()
    ) -> dict[str, dict[str, str]]:
        """``{user: {key: value}}`` for ≤ 100 users (only ``keys`` if given); users with
        nothing set are left out."""
        query: dict[str, Any] = {"targets": list(users)}
        if keys:
            query["properties"] = list(keys)
        body = await self._call("POST", "/metadata/user/get", json=query)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return {}
        return {str(u): _pairs(v) for u, v in data.items()}

    async def own_info(self) -> dict[str, str]:
        body = await self._call("GET", f"/metadata/user/{seg(self._me())}")
        return _pairs(body.get("data") if isinstance(body, dict) else None)

    def _me(self) -> str:
        me = self._client.current_user
        if me is None:
            raise ChatError(ErrorCode.USER_NOT_LOGIN, "log in first")
        return me

    async def _call(
        self, method: str, path: str, *, json: Any = None, form: Mapping[str, str] | None = None
    ) -> Any:
        rest, login = self._client._rest_login()  # USER_NOT_LOGIN before a login
        return await rest.call(method, path, token=login.token, json=json, form=form)


def _pairs(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}
