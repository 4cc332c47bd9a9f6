"""Routes the official client SDKs call on their own (not part of Agora's admin REST API).

GET /sdk/users/{u}/token/expires   the Web SDK's renewToken(): checks the new token and
                                   learns when it expires (``expire_timestamp``, epoch ms)
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..deps import AppDep, authenticate
from ..envelope import ok
from ..errors import RestError
from ..openapi import operation, operation_id
from ..shapes import TokenExpiresEnvelope

__all__ = ["router"]

router = APIRouter(prefix="/{org_name}/{app_name}/sdk", generate_unique_id_function=operation_id)


@router.get(
    "/users/{username}/token/expires",
    **operation(ok=TokenExpiresEnvelope, credential="user"),
)
async def token_expires(request: Request, app: AppDep, username: str) -> JSONResponse:
    principal = await authenticate(request, app)
    if principal.user is None or principal.user.username != username:
        raise RestError(
            401, "unauthorized", "The token does not belong to this user.", "UnauthorizedException"
        )
    # The SDK reads a top-level expire_timestamp; the envelope stays around it.
    return ok(
        request,
        app,
        path="/sdk/users/token/expires",
        data={"result": True},
        extra={"expire_timestamp": principal.expires_at_ms},
    )
