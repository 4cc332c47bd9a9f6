"""Credentials: the access tokens kibitz issues, Agora 007 tokens, and the token grants.

Two token families are accepted everywhere a token is:
- access tokens kibitz issues (``POST /token``): HS256 JWTs signed with the app's own
  secret, so one app's token means nothing to another; user tokens carry the user's
  ``token_epoch``, so a password change invalidates every token issued before it;
- Agora AccessToken2 (``007``) tokens minted with the app certificate: privilege 2 (app)
  for administration, privilege 1 (user) bound to the user's UUID for login.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Final, Literal

import jwt

from kibitz.protocol import ChatError, ErrorCode

from . import accesstoken2
from .accounts import AccountService, NewUser, validate_username
from .apps import AppService
from .models import App, User
from .ports import Clock

__all__ = ["AuthService", "IssuedToken", "Principal"]

_NEVER_S: Final = 10 * 365 * 86_400  # Easemob's ttl=0 ("never expires"), bounded
_ALGORITHM: Final = "HS256"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int  # seconds
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a REST call or a login speaks for."""

    app: App
    user: User | None  # None for an app (administrator) credential
    expires_at_ms: int

    @property
    def is_app(self) -> bool:
        return self.user is None


class AuthService:
    def __init__(
        self, apps: AppService, accounts: AccountService, clock: Clock, default_ttl_s: int
    ) -> None:
        self._apps = apps
        self._accounts = accounts
        self._clock = clock
        self._default_ttl_s = default_ttl_s

    # -- issuing -----------------------------------------------------------------------

    def _issue(
        self, app: App, kind: Literal["app", "user"], user: User | None, ttl_s: int | None
    ) -> IssuedToken:
        ttl = self._default_ttl_s if ttl_s is None else (_NEVER_S if ttl_s == 0 else ttl_s)
        if ttl < 0:
            raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "ttl must not be negative")
        now_ms = self._clock.now_ms()
        now_s = now_ms // 1000
        claims: dict[str, object] = {
            "iss": "kibitz",
            "aud": app.app_id,
            "typ": kind,
            "sub": user.id if user else "app",
            "iat": now_s,
            "exp": now_s + ttl,
        }
        if user is not None:
            claims["ep"] = user.token_epoch
        token = jwt.encode(claims, app.token_secret, algorithm=_ALGORITHM)
        return IssuedToken(access_token=token, expires_in=ttl, expires_at_ms=(now_s + ttl) * 1000)

    def issue_app_token(self, app: App, ttl_s: int | None = None) -> IssuedToken:
        return self._issue(app, "app", None, ttl_s)

    def issue_user_token(self, app: App, user: User, ttl_s: int | None = None) -> IssuedToken:
        return self._issue(app, "user", user, ttl_s)

    # -- grants (POST /{org}/{app}/token) ------------------------------------------------

    async def client_credentials(
        self, app: App, client_id: str, client_secret: str, ttl_s: int | None = None
    ) -> IssuedToken:
        ok_id = hmac.compare_digest(client_id.encode(), app.client_id.encode())
        ok_secret = hmac.compare_digest(client_secret.encode(), app.client_secret.encode())
        if not (ok_id and ok_secret):
            raise ChatError(ErrorCode.USER_AUTHENTICATION_FAILED, "invalid client credentials")
        return self.issue_app_token(app, ttl_s)

    async def password_grant(
        self, app: App, username: str, password: str, ttl_s: int | None = None
    ) -> tuple[IssuedToken, User]:
        validate_username(username)
        if not password:
            raise ChatError(ErrorCode.INVALID_PASSWORD, "invalid password")
        user = await self._accounts.find(app, username)
        if user is None:
            raise ChatError(ErrorCode.USER_NOT_FOUND, "user not found")
        if not await self._accounts.check_password(user, password):
            raise ChatError(ErrorCode.INVALID_PASSWORD, "invalid password")
        if not user.activated:
            raise ChatError(ErrorCode.USER_PERMISSION_DENIED, "user is deactivated")
        return self.issue_user_token(app, user, ttl_s), user

    async def agora_grant(self, app: App, token: str) -> IssuedToken:
        verified = self._verify_007(app, token, accesstoken2.PRIVILEGE_APP)
        ttl = max(verified.expires_at_s - self._clock.now_ms() // 1000, 1)
        return self.issue_app_token(app, ttl)

    async def inherit_grant(
        self, app: App, username: str, auto_create: bool, ttl_s: int | None = None
    ) -> tuple[IssuedToken, User]:
        validate_username(username)
        user = await self._accounts.find(app, username)
        if user is None:
            if not auto_create:
                raise ChatError(ErrorCode.USER_NOT_FOUND, "user not found")
            result = await self._accounts.register(app, [NewUser(username=username)])
            user = result.created[0] if result.created else await self._accounts.get(app, username)
        if not user.activated:
            raise ChatError(ErrorCode.USER_PERMISSION_DENIED, "user is deactivated")
        return self.issue_user_token(app, user, ttl_s), user

    # -- verification ------------------------------------------------------------------

    def _verify_007(self, app: App, token: str, privilege: int) -> accesstoken2.VerifiedChatToken:
        return accesstoken2.verify_chat_token(
            token,
            certificate_for=lambda app_id: app.app_certificate if app_id == app.app_id else None,
            now_s=self._clock.now_ms() // 1000,
            privilege=privilege,
        )

    def _decode_jwt(self, app: App, token: str) -> dict[str, object]:
        try:
            claims: dict[str, object] = jwt.decode(
                token,
                app.token_secret,
                algorithms=[_ALGORITHM],
                audience=app.app_id,
                issuer="kibitz",
                options={"require": ["exp", "iat", "sub", "aud"], "verify_iat": False},
                leeway=0,
            )
        except jwt.ExpiredSignatureError as exc:
            raise ChatError(ErrorCode.USER_AUTHENTICATION_FAILED, "token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise ChatError(ErrorCode.INVALID_TOKEN, "invalid token") from exc
        # PyJWT checks expiry against the wall clock; kibitz also checks its own clock.
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp * 1000 < self._clock.now_ms():
            raise ChatError(ErrorCode.USER_AUTHENTICATION_FAILED, "token expired")
        return claims

    async def authenticate(self, app: App, token: str) -> Principal:
        """Any credential of this app: issued app/user access token or 007 app/user token."""
        if not token:
            raise ChatError(ErrorCode.INVALID_TOKEN, "missing token")
        if token.startswith("007"):
            parsed = self._parse_007(token)
            chat = [s for s in parsed.services if s.service_type == accesstoken2.CHAT_SERVICE]
            if chat and accesstoken2.PRIVILEGE_APP in chat[0].privileges:
                verified = self._verify_007(app, token, accesstoken2.PRIVILEGE_APP)
                return Principal(app=app, user=None, expires_at_ms=verified.expires_at_s * 1000)
            verified = self._verify_007(app, token, accesstoken2.PRIVILEGE_USER)
            user = await self._user_for_007(app, verified.user_id)
            return Principal(app=app, user=user, expires_at_ms=verified.expires_at_s * 1000)
        claims = self._decode_jwt(app, token)
        expires_at_ms = int(str(claims["exp"])) * 1000
        if claims.get("typ") == "app":
            return Principal(app=app, user=None, expires_at_ms=expires_at_ms)
        found = await self._accounts.by_id(app, str(claims["sub"]))
        if found is None:
            raise ChatError(ErrorCode.USER_NOT_FOUND, "user not found")
        user = found
        if claims.get("ep") != user.token_epoch:
            raise ChatError(
                ErrorCode.USER_AUTHENTICATION_FAILED, "token revoked by a password change"
            )
        return Principal(app=app, user=user, expires_at_ms=expires_at_ms)

    def _parse_007(self, token: str) -> accesstoken2.ParsedToken:
        try:
            return accesstoken2.parse_token(token)
        except accesstoken2.TokenFormatError as exc:
            raise ChatError(ErrorCode.INVALID_TOKEN, "malformed 007 token") from exc

    async def _user_for_007(self, app: App, user_id: str) -> User:
        user = await self._accounts.by_id(app, user_id)
        if user is None:  # a harmless extension: the username instead of the UUID
            user = await self._accounts.find(app, user_id)
        if user is None:
            raise ChatError(ErrorCode.USER_NOT_FOUND, "user not found")
        return user

    async def login(self, app: App, username: str, token: str) -> Principal:
        """A real-time login: the token must be a user token of exactly this user."""
        validate_username(username)
        if app.disabled:
            raise ChatError(ErrorCode.SERVER_SERVICE_RESTRICTED, "the app is disabled")
        principal = await self.authenticate(app, token)
        if principal.user is None:
            raise ChatError(ErrorCode.INVALID_TOKEN, "an app token cannot log in as a user")
        if principal.user.username != username:
            target = await self._accounts.find(app, username)
            if target is None:
                raise ChatError(ErrorCode.USER_NOT_FOUND, "user not found")
            raise ChatError(ErrorCode.INVALID_TOKEN, "token does not belong to this user")
        if not principal.user.activated:
            raise ChatError(ErrorCode.USER_PERMISSION_DENIED, "user is deactivated")
        return principal
