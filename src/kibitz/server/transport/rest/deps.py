"""Request plumbing shared by the routes: the tenant in the path, the caller's credential,
and the JSON body.

Order matters and follows Agora: the ``{org}/{app}`` of the path is resolved first (an
unknown app is 404 whatever the credential), then the Bearer token is checked against that
app only, so a token of one app never opens another.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, TypeVar, cast

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._json import JsonError
from kibitz.protocol._json import loads as json_loads
from kibitz.server.domain import accesstoken2
from kibitz.server.domain.auth import Principal
from kibitz.server.domain.models import App
from kibitz.server.services import Services

from .errors import RestError, validation_description

__all__ = [
    "AdminDep",
    "AppDep",
    "RegistrarDep",
    "SelfOrAdminDep",
    "authenticate",
    "bearer_token",
    "body_bytes",
    "parse_model",
    "read_json",
    "require_app_admin",
    "resolve_app",
    "services_of",
]

M = TypeVar("M", bound=BaseModel)

EXPIRED: Final = "Unable to authenticate due to expired access token."
CORRUPT: Final = "Unable to authenticate due to corrupt access token."
FOREIGN: Final = "Unable to authenticate."
REGISTRATION_CLOSED: Final = "Registration is not open, please contact the app admin."
APP_TOKEN_REQUIRED: Final = "This operation requires an app token; user tokens are refused."


def services_of(request: Request) -> Services:
    return cast(Services, request.app.state.services)


async def resolve_app(request: Request, org_name: str, app_name: str) -> App:
    """The tenant named in the path; unknown → 404 organization_application_not_found; a
    disabled app → 403 (SERVER_SERVICE_RESTRICTED) except for the route that enables it."""
    app = await services_of(request).apps.resolve(org_name, app_name)
    if app.disabled and not request.url.path.endswith(f"/{org_name}/{app_name}/enable"):
        raise ChatError(
            ErrorCode.SERVER_SERVICE_RESTRICTED, "the app is disabled: service restricted"
        )
    return app


AppDep = Annotated[App, Depends(resolve_app)]


async def load_guard(request: Request) -> None:
    """Every app route is refused with 503 while the node sheds load (overload.py)."""
    if "org_name" in request.path_params and services_of(request).overload.busy():
        raise RestError(503, "server_busy", "Server is busy.", "ServiceUnavailableException")


async def _count_call(request: Request, app: App) -> None:
    """An authenticated call counts against the app's REST rate for its route (429 past
    it), once per request. Calls without a valid credential are refused before they can
    spend an app's rate: nobody locks an app out without its credentials."""
    if getattr(request.state, "rate_counted", False):
        return
    request.state.rate_counted = True
    route = getattr(request.scope.get("route"), "path", "")
    await services_of(request).rest_rates.check(app.id, f"{request.method} {route}")


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _token_app_id(token: str) -> str | None:
    """The app a token claims to belong to, read without verifying it."""
    try:
        if token.startswith("007"):
            return accesstoken2.parse_token(token).app_id
        claims = jwt.decode(token, options={"verify_signature": False})
    except (accesstoken2.TokenFormatError, jwt.InvalidTokenError, ValueError):
        return None
    aud = claims.get("aud")
    return aud if isinstance(aud, str) else None


def auth_failure(app: App, token: str, exc: ChatError) -> RestError:
    """Agora's three 401s: expired (or missing), corrupt, and issued elsewhere."""
    if exc.code == ErrorCode.USER_AUTHENTICATION_FAILED:
        return RestError(401, "unauthorized", EXPIRED, "UnauthorizedException")
    claimed = _token_app_id(token)
    if claimed is not None and claimed != app.app_id:
        return RestError(401, "auth_bad_access_token", FOREIGN, "SecurityException")
    if exc.code == ErrorCode.USER_NOT_FOUND:  # the user the token names was deleted
        return RestError(401, "auth_bad_access_token", FOREIGN, "SecurityException")
    return RestError(401, "auth_bad_access_token", CORRUPT, "SecurityException")


async def authenticate(request: Request, app: App) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise RestError(401, "unauthorized", EXPIRED, "UnauthorizedException")
    try:
        principal = await services_of(request).auth.authenticate(app, token)
    except ChatError as exc:
        raise auth_failure(app, token, exc) from exc
    await _count_call(request, app)
    return principal


async def require_app_admin(request: Request, app: AppDep) -> Principal:
    """An app credential: an issued app access token or a 007 token with the app privilege."""
    principal = await authenticate(request, app)
    if not principal.is_app:
        raise RestError(401, "unauthorized", APP_TOKEN_REQUIRED, "UnauthorizedException")
    return principal


async def require_registrar(request: Request, app: AppDep) -> Principal | None:
    """Registration takes an app credential — or none at all (None) where the app has open
    registration, as Agora's console can set; any refusal carries Agora's message."""
    try:
        return await require_app_admin(request, app)
    except RestError as exc:
        if bearer_token(request) is None:
            if (await services_of(request).app_settings.get(app.id)).open_registration:
                return None
        raise RestError(401, "unauthorized", REGISTRATION_CLOSED, "UnauthorizedException") from exc


async def require_self_or_admin(request: Request, app: AppDep, username: str) -> Principal:
    """An app credential, or a user credential of the very user named in the path."""
    principal = await authenticate(request, app)
    if principal.user is not None and principal.user.username != username:
        raise RestError(401, "unauthorized", APP_TOKEN_REQUIRED, "UnauthorizedException")
    return principal


AdminDep = Annotated[Principal, Depends(require_app_admin)]
SelfOrAdminDep = Annotated[Principal, Depends(require_self_or_admin)]
RegistrarDep = Annotated[Principal | None, Depends(require_registrar)]


async def body_bytes(request: Request) -> bytes:
    """The raw body; a client that hangs up before sending all of it gets a 400 (which
    nobody reads) instead of an unhandled ClientDisconnect in the log."""
    try:
        return await request.body()
    except ClientDisconnect as exc:
        raise RestError(
            400, "illegal_argument", "The request body was cut short.", "IllegalArgumentException"
        ) from exc


async def read_json(request: Request) -> Any:
    """The parsed JSON body; malformed → 400 json_parse, absent → 400 illegal_argument."""
    body = await body_bytes(request)
    if not body.strip():
        raise RestError(
            400, "illegal_argument", "The request needs a JSON body.", "IllegalArgumentException"
        )
    try:
        return json_loads(body)
    except JsonError as exc:
        raise RestError(
            400, "json_parse", f"Unexpected character. ({exc})", "JsonParseException"
        ) from exc


def parse_model(model: type[M], value: Any) -> M:
    """Validate a decoded body against ``model``; wrong types → 400 illegal_argument."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise RestError(
            400,
            "illegal_argument",
            validation_description(exc.errors()),
            "IllegalArgumentException",
        ) from exc
