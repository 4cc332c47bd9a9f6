"""``POST /{org}/{app}/token``: the four grants real clients send (agora-protocol.md §2).

- ``client_credentials`` → an app token: ``{access_token, expires_in, application}``
- ``password``           → a user token: ``{access_token, expires_in, user}``
- ``agora``              → a 007 app token (Bearer) exchanged for an app token:
                           ``{access_token, expire_timestamp (epoch ms), expires_in}``
- ``inherit``            → a user token for any user, on an app credential (Bearer);
                           ``autoCreateUser`` registers the user first if needed

Failures keep Agora's JSON error body. The Web SDK matches the literal descriptions
"invalid password" and "user not found" (agora-protocol.md §7.3) to stop retrying.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from kibitz.protocol import ChatError, ErrorCode

from ..deps import (
    AppDep,
    auth_failure,
    bearer_token,
    parse_model,
    read_json,
    require_app_admin,
    services_of,
)
from ..envelope import user_entity
from ..errors import RestError
from ..openapi import operation, operation_id
from ..schemas import ClientCredentialsGrant, Grant, InheritGrant, PasswordGrant
from ..shapes import TokenGrant, TokenReply

__all__ = ["router"]

router = APIRouter(generate_unique_id_function=operation_id)


def _grant_error(exc: ChatError) -> RestError | ChatError:
    """Login failures are OAuth ``invalid_grant`` (400) with the SDK's literal strings."""
    if exc.code == ErrorCode.INVALID_PASSWORD:
        return RestError(400, "invalid_grant", "invalid password", "InvalidGrantException")
    if exc.code == ErrorCode.USER_NOT_FOUND:
        return RestError(400, "invalid_grant", "user not found", "InvalidGrantException")
    return exc


@router.post(
    "/{org_name}/{app_name}/token",
    **operation(ok=TokenReply, credential="optional", body=TokenGrant, errors=[401]),
)
async def token(request: Request, app: AppDep) -> JSONResponse:
    body = await read_json(request)
    grant = parse_model(Grant, body).grant_type
    auth = services_of(request).auth
    result: dict[str, Any]
    if grant == "client_credentials":
        cc = parse_model(ClientCredentialsGrant, body)
        try:
            issued = await auth.client_credentials(app, cc.client_id, cc.client_secret, cc.ttl)
        except ChatError as exc:
            if exc.code != ErrorCode.USER_AUTHENTICATION_FAILED:
                raise
            raise RestError(
                401, "invalid_client", "invalid client credentials", "InvalidClientException"
            ) from exc
        result = {
            "access_token": issued.access_token,
            "expires_in": issued.expires_in,
            "application": app.id,
        }
    elif grant == "password":
        pw = parse_model(PasswordGrant, body)
        try:
            issued, user = await auth.password_grant(app, pw.username, pw.password, pw.ttl)
        except ChatError as exc:
            raise _grant_error(exc) from exc
        result = {
            "access_token": issued.access_token,
            "expires_in": issued.expires_in,
            "user": user_entity(user),
        }
    elif grant == "agora":
        bearer = bearer_token(request)
        if bearer is None:
            raise RestError(
                401, "unauthorized", "The agora grant needs a Bearer 007 app token.", "Unauthorized"
            )
        try:
            issued = await auth.agora_grant(app, bearer)
        except ChatError as exc:
            raise auth_failure(app, bearer, exc) from exc
        result = {
            "access_token": issued.access_token,
            "expire_timestamp": issued.expires_at_ms,
            "expires_in": issued.expires_in,
        }
    elif grant == "inherit":
        await require_app_admin(request, app)
        inherit = parse_model(InheritGrant, body)
        try:
            issued, user = await auth.inherit_grant(
                app, inherit.username, inherit.autoCreateUser, inherit.ttl
            )
        except ChatError as exc:
            raise _grant_error(exc) from exc
        result = {
            "access_token": issued.access_token,
            "expires_in": issued.expires_in,
            "user": user_entity(user),
        }
    else:
        raise RestError(
            400,
            "unsupported_grant_type",
            f"grant_type {grant!r} is not supported (client_credentials, password, agora, inherit)",
            "UnsupportedGrantTypeException",
        )
    return JSONResponse(result)
