"""Helpers for the REST tests: a clock the test moves, a fake live session, small calls."""

from __future__ import annotations

import time
from typing import Any

import httpx

from kibitz.protocol import ErrorCode
from kibitz.server.domain import accesstoken2
from kibitz.server.domain.models import App
from kibitz.server.domain.sessions import LiveDevice
from tests.conftest import AppHarness

ERROR_KEYS = {"error", "exception", "timestamp", "duration", "error_description"}
ENVELOPE_KEYS = {
    "action",
    "application",
    "path",
    "uri",
    "timestamp",
    "duration",
    "organization",
    "applicationName",
}


class FakeClock:
    """Starts at the real time (PyJWT also checks ``exp`` against the wall clock) and only
    moves forward when a test says so."""

    def __init__(self) -> None:
        self.now = time.time_ns() // 1_000_000

    def now_ms(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


class FakeSession:
    """Stands in for a live msync session (``online`` puts it where a login would)."""

    def __init__(self, resource: str) -> None:
        self._resource = resource
        self.session_id = f"fake-{resource}-{id(self)}"
        self.kicked: list[ErrorCode] = []

    @property
    def resource(self) -> str:
        return self._resource

    async def kick(self, code: ErrorCode, reason: str = "") -> None:
        self.kicked.append(code)

    async def close_for_shutdown(self) -> None:
        pass

    def notify(self, queue: str, frame: bytes) -> None:
        pass


async def online(h: AppHarness, username: str, session: FakeSession, max_devices: int = 4) -> None:
    """Log ``session`` in as a login does: admitted by the device directory, then indexed
    by this node's registry."""
    live = h.services.live_sessions
    device = LiveDevice(session.resource, session.session_id, live.node, live.epoch)
    await live.admit(h.app.id, username, device, max_devices)
    h.services.sessions.add(h.app.id, username, session)


async def kicked(h: AppHarness, session: FakeSession) -> list[ErrorCode]:
    """What ``session`` was told, once the kicks under way have run."""
    await h.services.sessions.kicks_done()
    return session.kicked


def assert_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["error"] == error, body
    assert isinstance(body["timestamp"], int) and isinstance(body["duration"], int)
    assert isinstance(body["error_description"], str) and body["error_description"]
    return body


def assert_envelope(response: httpx.Response, h: AppHarness, action: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert ENVELOPE_KEYS <= set(body), body
    assert body["action"] == action
    assert body["application"] == h.app.id
    assert body["organization"] == h.app.org_name
    assert body["applicationName"] == h.app.app_name
    assert body["path"] == "/users"
    assert body["uri"].startswith(f"http://kibitz.test{h.base}/users")
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def app_007(app: App, now_ms: int, ttl: int = 3600) -> str:
    return accesstoken2.build_chat_app_token(
        app.app_id, app.app_certificate, ttl, issue_ts=now_ms // 1000
    )


def user_007(app: App, user_uuid: str, now_ms: int, ttl: int = 3600) -> str:
    return accesstoken2.build_chat_user_token(
        app.app_id, app.app_certificate, user_uuid, ttl, issue_ts=now_ms // 1000
    )


async def register(h: AppHarness, *names: str, password: str | None = "secret") -> list[Any]:
    body = [{"username": n, **({"password": password} if password else {})} for n in names]
    response = await h.http.post(f"{h.base}/users", json=body, headers=h.admin_headers())
    assert response.status_code == 200, response.text
    entities: list[Any] = response.json()["entities"]
    assert len(entities) == len(names)
    return entities


async def user_token(h: AppHarness, username: str, password: str = "secret") -> str:
    response = await h.http.post(
        f"{h.base}/token",
        json={"grant_type": "password", "username": username, "password": password},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token
