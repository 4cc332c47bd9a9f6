"""Internal records shared by the domain services and the storage adapters."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["App", "User"]


@dataclass(frozen=True, slots=True)
class App:
    """A tenant: everything in kibitz belongs to exactly one app (``org#app``)."""

    id: str  # internal UUID, shown as "application" in REST envelopes
    org_name: str
    app_name: str
    client_id: str
    client_secret: str
    app_id: str  # 32 hex chars, the Agora "App ID" carried in 007 tokens
    app_certificate: str  # 32 hex chars, the HMAC key material of 007 tokens
    token_secret: str  # signs the access tokens kibitz issues for this app
    max_devices: int
    created_ms: int
    disabled: bool = False  # banned by the operator: no logins, no REST, nothing lost

    @property
    def app_key(self) -> str:
        return f"{self.org_name}#{self.app_name}"


@dataclass(frozen=True, slots=True)
class User:
    """A chat account. ``id`` is the stable UUID that 007 user tokens are bound to."""

    id: str
    app_pk: str
    username: str
    password_hash: str | None
    activated: bool
    nickname: str | None
    created_ms: int
    modified_ms: int
    token_epoch: int = 0  # bumped to invalidate every access token issued before
