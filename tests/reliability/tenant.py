"""One app on a live server, driven the way a customer's backend drives it: the app token
from the client-credentials grant, users registered over REST, user tokens from the password
grant (every credential is a real one, issued by the server under test)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.conftest import LiveServer

__all__ = ["PASSWORD", "Tenant"]

PASSWORD = "secret"
TIMEOUT = 10.0


@dataclass
class Tenant:
    server: LiveServer
    creds: dict[str, str]
    app_token: str
    tokens: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, server: LiveServer, org: str, app: str, **opts: str) -> Tenant:
        """``kibitz app create`` on the server's data dir, then an app token over REST."""
        creds = server.create_app(org, app, **opts)
        grant = {
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        }
        base = f"{server.rest}/{org}/{app}"
        reply = httpx.post(f"{base}/token", json=grant, timeout=TIMEOUT)
        reply.raise_for_status()
        return cls(server, creds, reply.json()["access_token"])

    @property
    def org(self) -> str:
        return self.creds["org_name"]

    @property
    def app(self) -> str:
        return self.creds["app_name"]

    @property
    def app_key(self) -> str:
        return self.creds["app_key"]

    @property
    def base(self) -> str:
        return f"{self.server.rest}/{self.org}/{self.app}"

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.app_token}"}

    def register(self, *names: str) -> None:
        users = [{"username": n, "password": PASSWORD} for n in names]
        reply = httpx.post(f"{self.base}/users", json=users, headers=self.admin(), timeout=TIMEOUT)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert "data" not in body, f"some users not registered: {body['data']}"

    def login(self, name: str, **extra: Any) -> str:
        """The password grant (a normal login); the token is kept in ``tokens``."""
        grant = {"grant_type": "password", "username": name, "password": PASSWORD, **extra}
        reply = httpx.post(f"{self.base}/token", json=grant, timeout=TIMEOUT)
        assert reply.status_code == 200, reply.text
        token: str = reply.json()["access_token"]
        self.tokens[name] = token
        return token

    def users(self, *names: str) -> dict[str, str]:
        """Register ``names`` and log each in; their tokens."""
        self.register(*names)
        return {n: self.login(n) for n in names}
