"""The REST calls the SDK makes, over one ``httpx.AsyncClient``, with errors mapped.

Network failures become ``SERVER_NOT_REACHABLE`` (refused, DNS), ``SERVER_TIMEOUT`` (no
answer in time) or ``NETWORK_ERROR`` (broken mid-flight); error answers go through the
table in ``_codes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from kibitz.protocol import ChatError, ErrorCode

from ._codes import rest_error

__all__ = ["GrantedToken", "RestClient"]


@dataclass(frozen=True, slots=True)
class GrantedToken:
    access_token: str
    expires_in_s: int | None
    expires_at_ms: int | None = None


class RestClient:
    """``/{org}/{app}/…`` calls; one instance per ``ChatClient`` or ``AdminClient``."""

    def __init__(self, base_url: str, org: str, app: str, timeout: float) -> None:
        self._prefix = f"/{quote(org, safe='')}/{quote(app, safe='')}"
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout),
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def http(self) -> httpx.AsyncClient:
        """The client itself, for the calls that stream (attachments: ``_files``)."""
        return self._http

    @property
    def timeout(self) -> float:
        return self._timeout

    def url(self, path: str) -> str:
        """``/{org}/{app}{path}``, relative to the current node."""
        return self._prefix + path

    def absolute(self, path: str) -> str:
        """The absolute URL of ``/{org}/{app}{path}`` on the current node."""
        return str(self._http.base_url).rstrip("/") + self._prefix + path

    def rebase(self, base_url: str) -> None:
        """Send later calls to ``base_url`` (the node a client moved to); calls in flight
        finish where they started."""
        self._http.base_url = base_url.rstrip("/")

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> Any:
        """One request; returns the decoded JSON body of a 2xx answer, else raises."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = self._prefix + path
        try:
            response = await self._http.request(
                method, url, json=json, params=params, headers=headers, data=form
            )
        except httpx.ConnectTimeout as exc:
            raise ChatError(ErrorCode.SERVER_TIMEOUT, f"connecting to {url} timed out") from exc
        except httpx.TimeoutException as exc:
            raise ChatError(ErrorCode.SERVER_TIMEOUT, f"{method} {url}: no answer") from exc
        except httpx.ConnectError as exc:
            raise ChatError(ErrorCode.SERVER_NOT_REACHABLE, f"{method} {url}: {exc}") from exc
        except httpx.TransportError as exc:
            raise ChatError(ErrorCode.NETWORK_ERROR, f"{method} {url}: {exc}") from exc
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if not response.is_success:
            raise rest_error(response.status_code, body, path)
        return body

    # -- tokens ----------------------------------------------------------------------

    async def password_grant(self, username: str, password: str) -> GrantedToken:
        body = await self.call(
            "POST",
            "/token",
            json={"grant_type": "password", "username": username, "password": password},
        )
        return _granted(body)

    async def client_credentials(self, client_id: str, client_secret: str) -> GrantedToken:
        body = await self.call(
            "POST",
            "/token",
            json={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
            },
        )
        return _granted(body)

    async def token_expiry_ms(self, username: str, token: str) -> int:
        """When ``token`` expires (epoch ms), as the Web SDK's ``renewToken`` asks it; the
        server checks that the token is a valid user token of ``username``."""
        body = await self.call(
            "GET",
            f"/sdk/users/{quote(username, safe='')}/token/expires",
            token=token,
        )
        value = body.get("expire_timestamp") if isinstance(body, dict) else None
        if not isinstance(value, int):
            raise ChatError(ErrorCode.SERVER_UNKNOWN_ERROR, "no expire_timestamp in the answer")
        return value


def _granted(body: Any) -> GrantedToken:
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise ChatError(ErrorCode.SERVER_UNKNOWN_ERROR, "the token answer has no access_token")
    expires_in = body.get("expires_in")
    expires_at = body.get("expire_timestamp")
    return GrantedToken(
        access_token=body["access_token"],
        expires_in_s=expires_in if isinstance(expires_in, int) else None,
        expires_at_ms=expires_at if isinstance(expires_at, int) else None,
    )
