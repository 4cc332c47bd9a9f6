"""``AdminClient``: the REST administration a script or a test needs.

Authenticates with the app's client id/secret (exchanged for an app token, renewed before
it expires) or with an app token given directly (a kibitz app token or a ``007`` app
token)::

    async with AdminClient("http://127.0.0.1:5280", "acme#chat",
                           client_id="...", client_secret="...") as admin:
        await admin.register_users([("alice", "pw"), ("bob", "pw")])
        await admin.send_message("alice", ChatMessage.text("bob", "welcome"))
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import ChatType, ContentKind

from ._message import ChatMessage
from ._options import ChatOptions
from ._rest import RestClient

__all__ = ["AdminClient"]

_TARGETS: Final = {ChatType.CHAT: "users", ChatType.GROUP: "chatgroups", ChatType.ROOM: "chatrooms"}


def _user(name: str) -> str:
    return quote(name, safe="")


def rest_body(message: ChatMessage) -> dict[str, Any]:
    """The ``body`` of Agora's send-message REST call for a message's content."""
    c = message.body
    if c.kind is ContentKind.TEXT:
        return {"msg": c.text}
    if c.kind is ContentKind.CMD:
        return {"action": c.action}
    if c.kind is ContentKind.CUSTOM:
        return {"customEvent": c.custom_event, "customExts": dict(c.custom_exts)}
    if c.kind is ContentKind.LOCATION:
        return {"lat": c.latitude, "lng": c.longitude, "addr": c.address}
    raise ChatError(ErrorCode.MESSAGE_INVALID, f"{c.kind.value} messages cannot be sent yet")


class AdminClient:
    """REST administration of one app: tokens, users, messages sent as a user.

    Args:
        rest_server: Base URL, e.g. ``"http://127.0.0.1:5280"``.
        app_key: ``"org#app"``.
        client_id: With ``client_secret``: the app's credentials (``kibitz app show``).
        client_secret: See ``client_id``.
        token: Instead of id/secret: an app token (kibitz access token or ``007``).
        request_timeout: Seconds per call before ``ChatError(SERVER_TIMEOUT)``.
    """

    def __init__(
        self,
        rest_server: str,
        app_key: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        token: str | None = None,
        request_timeout: float = 30.0,
    ) -> None:
        if token is None and not (client_id and client_secret):
            raise TypeError("AdminClient needs client_id and client_secret, or token")
        opts = ChatOptions.for_server(rest_server, app_key)  # validates the app key
        self.app_key = app_key
        self._rest = RestClient(opts.rest_server, opts.org_name, opts.app_name, request_timeout)
        self._client_id, self._client_secret = client_id, client_secret
        self._token = token
        self._renew_at = float("inf") if token is not None else 0.0

    async def __aenter__(self) -> AdminClient:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._rest.aclose()

    # -- tokens ------------------------------------------------------------------------

    async def app_token(self) -> str:
        """An app token (fetched with the client credentials, renewed at half-life)."""
        if self._token is None or time.monotonic() >= self._renew_at:
            assert self._client_id is not None and self._client_secret is not None
            granted = await self._rest.client_credentials(self._client_id, self._client_secret)
            self._token = granted.access_token
            self._renew_at = time.monotonic() + (granted.expires_in_s or 3600) / 2
        return self._token

    async def user_token(self, username: str) -> str:
        """A user token for ``username`` (the ``inherit`` grant), for ``login(token=...)``."""
        body = await self._call(
            "POST", "/token", json={"grant_type": "inherit", "username": username}
        )
        return str(body["access_token"])

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self._rest.call(method, path, token=await self.app_token(), **kwargs)

    # -- users -------------------------------------------------------------------------

    async def register_user(
        self, username: str, password: str | None = None, *, nickname: str | None = None
    ) -> dict[str, Any]:
        """Register one user; returns its entity (``uuid``, ``username``, ``activated``...).

        Raises:
            ChatError: ``USER_ALREADY_EXIST``, ``INVALID_USER_NAME``, ``INVALID_PASSWORD``.
        """
        spec: dict[str, Any] = {"username": username}
        if password is not None:
            spec["password"] = password
        if nickname is not None:
            spec["nickname"] = nickname
        body = await self._call("POST", "/users", json=spec)
        return dict(body["entities"][0])

    async def register_users(
        self, users: Iterable[tuple[str, str] | Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Register several users at once: ``(username, password)`` pairs or dicts.

        Returns the entities created; raises ``USER_ALREADY_EXIST`` naming any taken.
        """
        specs = [
            dict(u) if isinstance(u, Mapping) else {"username": u[0], "password": u[1]}
            for u in users
        ]
        body = await self._call("POST", "/users", json=specs)
        failed = [f.get("username") for f in body.get("data") or [] if isinstance(f, dict)]
        if failed:
            raise ChatError(ErrorCode.USER_ALREADY_EXIST, f"already registered: {failed}")
        return [dict(e) for e in body.get("entities", [])]

    async def get_user(self, username: str) -> dict[str, Any]:
        """One user's entity. Raises ``ChatError(USER_NOT_FOUND)``."""
        body = await self._call("GET", f"/users/{_user(username)}")
        return dict(body["entities"][0])

    async def delete_user(self, username: str) -> None:
        """Delete a user; its sessions are logged out with ``USER_REMOVED``."""
        await self._call("DELETE", f"/users/{_user(username)}")

    async def set_password(self, username: str, password: str) -> None:
        """Change a password; sessions end with ``USER_KICKED_BY_CHANGE_PASSWORD``."""
        await self._call(
            "PUT", f"/users/{_user(username)}/password", json={"newpassword": password}
        )

    async def deactivate_user(self, username: str) -> None:
        """Ban a user: logged out now, and logins refused (``USER_PERMISSION_DENIED``)."""
        await self._call("POST", f"/users/{_user(username)}/deactivate")

    async def activate_user(self, username: str) -> None:
        await self._call("POST", f"/users/{_user(username)}/activate")

    async def disconnect_user(self, username: str, resource: str | None = None) -> None:
        """Force logout (``USER_KICKED_BY_OTHER_DEVICE``), of one device or all."""
        path = f"/users/{_user(username)}/disconnect"
        if resource is not None:
            path += f"/{quote(resource, safe='')}"
        await self._call("POST", path)

    async def is_online(self, username: str) -> bool:
        body = await self._call("GET", f"/users/{_user(username)}/status")
        return bool(body.get("data", {}).get(username) == "online")

    # -- messages ----------------------------------------------------------------------

    async def send_message(
        self, sender: str, message: ChatMessage, *, online_only: bool = False
    ) -> str:
        """Send ``message`` as ``sender`` (``POST /messages/users`` and friends).

        Returns the server's message id. Example::

            msg_id = await admin.send_message("alice", ChatMessage.text("bob", "hi"))
        """
        message.validate()
        payload: dict[str, Any] = {
            "from": sender,
            "to": [message.to],
            "type": message.body.kind.value,
            "body": rest_body(message),
            "ext": dict(message.ext),
        }
        if online_only:
            payload["routetype"] = "ROUTE_ONLINE"
        body = await self._call("POST", f"/messages/{_TARGETS[message.chat_type]}", json=payload)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or message.to not in data:
            raise ChatError(ErrorCode.SERVER_UNKNOWN_ERROR, "the answer names no message id")
        return str(data[message.to])

    # -- the app ---------------------------------------------------------------------

    async def settings(self) -> dict[str, int | bool]:
        """The app's limits and service switches (kibitz's ``/settings``)."""
        body = await self._call("GET", "/settings")
        return dict(body["data"])

    async def update_settings(self, **changes: int | bool) -> dict[str, int | bool]:
        """Change some of them (all or none); returns them all as they now are.

        Raises:
            ChatError: ``USER_ILLEGAL_ARGUMENT`` naming an unknown setting or a bad value.
        """
        body = await self._call("PUT", "/settings", json=changes)
        return dict(body["data"])

    async def mute_user(
        self,
        username: str,
        *,
        chat: int | None = None,
        groupchat: int | None = None,
        chatroom: int | None = None,
    ) -> None:
        """App-wide mute of ``username``'s sends, per kind, in seconds (-1 for ever, 0 to
        lift it); a muted send fails with ``USER_MUTED``."""
        kinds = {"chat": chat, "groupchat": groupchat, "chatroom": chatroom}
        body = {"username": username, **{k: v for k, v in kinds.items() if v is not None}}
        await self._call("POST", "/mutes", json=body)

    async def disable_app(self) -> None:
        """Ban this app: its sessions close; logins and REST calls fail with
        ``SERVER_SERVICE_RESTRICTED`` until ``enable_app``."""
        await self._call("POST", "/disable")

    async def enable_app(self) -> None:
        await self._call("POST", "/enable")
