"""Failures rendered as Agora's REST error body, with the HTTP status Agora gives.

Every error answers::

    {"error": "illegal_argument", "exception": "...IllegalArgumentException",
     "timestamp": 1700000000000, "duration": 0, "error_description": "..."}

Two kinds of failure reach this edge:

    ChatError (kibitz.protocol)   raised by the domain; ``REST_ERRORS`` maps its code to
                                  (HTTP status, Agora ``error``, Java-style ``exception``)
    RestError                     raised by the transport itself when the status or the
                                  ``error`` string depends on the route (auth, JSON, 413)

Framework errors (unknown route, wrong method, bad query parameter) are rendered the same
way, so a client never sees FastAPI's own ``{"detail": ...}`` shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.domain.app_settings import QuotaReached

from .middleware import elapsed_ms

__all__ = [
    "REST_ERRORS",
    "RestError",
    "RestErrorSpec",
    "error_body",
    "install_error_handlers",
    "validation_description",
]

_PKG: Final = "kibitz.rest."


@dataclass(frozen=True, slots=True)
class RestErrorSpec:
    status: int
    error: str
    exception: str


def _spec(status: int, error: str, exception: str) -> RestErrorSpec:
    return RestErrorSpec(status, error, _PKG + exception)


_ILLEGAL = _spec(400, "illegal_argument", "IllegalArgumentException")
_FORBIDDEN = _spec(403, "forbidden_op", "ForbiddenOpException")
_NOT_FOUND = _spec(404, "service_resource_not_found", "ServiceResourceNotFoundException")
_RESOURCE_NOT_FOUND = _spec(404, "resource_not_found", "ResourceNotFoundException")
_BUSY = _spec(429, "reach_limit", "ReachLimitException")
_QUOTA = _spec(429, "resource_limited", "ResourceLimitedException")
_INTERNAL = _spec(500, "internal_server_error", "InternalServerErrorException")

# ErrorCode → how REST reports it (agora-rest.md §6.2). Features add their codes here.
REST_ERRORS: Final[dict[ErrorCode, RestErrorSpec]] = {
    ErrorCode.GENERAL_ERROR: _INTERNAL,
    ErrorCode.EXCEED_SERVICE_LIMIT: _ILLEGAL,
    ErrorCode.INVALID_APP_KEY: _spec(
        404, "organization_application_not_found", "OrganizationApplicationNotFoundException"
    ),
    ErrorCode.INVALID_USER_NAME: _ILLEGAL,
    ErrorCode.INVALID_PASSWORD: _ILLEGAL,
    ErrorCode.INVALID_TOKEN: _spec(401, "auth_bad_access_token", "SecurityException"),
    ErrorCode.USER_AUTHENTICATION_FAILED: _spec(401, "unauthorized", "UnauthorizedException"),
    ErrorCode.USER_ALREADY_EXIST: _spec(
        400, "duplicate_unique_property_exists", "DuplicateUniquePropertyExistsException"
    ),
    ErrorCode.USER_NOT_FOUND: _NOT_FOUND,
    ErrorCode.USER_ILLEGAL_ARGUMENT: _ILLEGAL,
    ErrorCode.USER_PERMISSION_DENIED: _FORBIDDEN,
    ErrorCode.SERVER_BUSY: _BUSY,
    ErrorCode.SERVER_UNKNOWN_ERROR: _INTERNAL,
    ErrorCode.SERVER_SERVICE_RESTRICTED: _FORBIDDEN,
    ErrorCode.MESSAGE_SEND_TRAFFIC_LIMIT: _BUSY,
    ErrorCode.SERVICE_NOT_ENABLED: _FORBIDDEN,
    ErrorCode.GROUP_NOT_EXIST: _RESOURCE_NOT_FOUND,
    ErrorCode.GROUP_INVALID_ID: _ILLEGAL,
    ErrorCode.GROUP_NOT_JOINED: _FORBIDDEN,  # "…are not members of this group" → SDK 602
    ErrorCode.GROUP_PERMISSION_DENIED: _FORBIDDEN,
    ErrorCode.GROUP_ALREADY_JOINED: _FORBIDDEN,
    ErrorCode.GROUP_MEMBERS_FULL: _FORBIDDEN,
    ErrorCode.CHATROOM_NOT_EXIST: _RESOURCE_NOT_FOUND,
    ErrorCode.CHATROOM_PERMISSION_DENIED: _FORBIDDEN,
    ErrorCode.CHATROOM_ALREADY_JOINED: _FORBIDDEN,
    ErrorCode.CHATROOM_MEMBERS_FULL: _FORBIDDEN,
    ErrorCode.THREAD_NOT_EXIST: _RESOURCE_NOT_FOUND,
    # attachments (agora-rest.md §6.2, agora-protocol-2.md §15): only a 400 fails the
    # Web SDK's upload at once; its download reads 403 "chatfile no permission" as 222
    ErrorCode.FILE_NOT_FOUND: _NOT_FOUND,
    ErrorCode.FILE_INVALID: _ILLEGAL,
    ErrorCode.FILE_UPLOAD_FAILED: _INTERNAL,
    ErrorCode.FILE_DOWNLOAD_FAILED: _FORBIDDEN,
    ErrorCode.FILE_DELETE_FAILED: _INTERNAL,
    ErrorCode.FILE_TOO_LARGE: _spec(
        413, "request_entity_too_large", "RequestEntityTooLargeException"
    ),
    # user attributes and presence (agora-rest.md §3.3, §3.8): the Web SDK reads 400
    # "ext is too big " as 1100; 900/901 reach it as 17 with the description
    ErrorCode.USERINFO_USERCOUNT_EXCEED: _ILLEGAL,
    ErrorCode.USERINFO_DATALENGTH_EXCEED: _ILLEGAL,
    ErrorCode.PRESENCE_PARAM_LENGTH_EXCEED: _ILLEGAL,
    ErrorCode.USER_NOT_FRIEND: _ILLEGAL,  # "updateRemark | they are not friends…" → SDK 221
    ErrorCode.CONTACT_ADD_FAILED: _spec(400, "contact_add_failed", "ContactAddFailedException"),
    ErrorCode.CONTACT_REACH_LIMIT: _spec(403, "exceed_limit", "ExceedLimitException"),
    ErrorCode.CONTACT_REACH_LIMIT_PEER: _spec(403, "exceed_limit", "ExceedLimitException"),
}


class RestError(Exception):
    """A failure whose REST rendering is decided by the route, not by an ErrorCode."""

    def __init__(
        self, status: int, error: str, description: str, exception: str = "WebApplicationException"
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.exception = exception if "." in exception else _PKG + exception


def error_body(
    scope: Any, now_ms: int, error: str, description: str, exception: str
) -> dict[str, Any]:
    return {
        "error": error,
        "exception": exception,
        "timestamp": now_ms,
        "duration": elapsed_ms(scope),
        "error_description": description,
    }


def _now_ms(request: Request) -> int:
    services = getattr(request.app.state, "services", None)
    if services is None:  # pragma: no cover - create_app always sets it
        import time

        return time.time_ns() // 1_000_000
    now: int = services.clock.now_ms()
    return now


def _render(
    request: Request,
    status: int,
    error: str,
    description: str,
    exception: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = error_body(request.scope, _now_ms(request), error, description, exception)
    services = getattr(request.app.state, "services", None)
    if services is not None:
        services.metrics.rest.labels(str(status)).inc()
        if error == "reach_limit":
            services.metrics.rate_limited.labels("rest").inc()
    return JSONResponse(body, status_code=status, headers=headers)


def chat_error_response(request: Request, exc: ChatError) -> JSONResponse:
    # A plan quota (QuotaReached) is Agora's 429 resource_limited; every other failure of
    # its code goes by the table.
    spec = _QUOTA if isinstance(exc, QuotaReached) else REST_ERRORS.get(exc.code, _ILLEGAL)
    return _render(request, spec.status, spec.error, exc.description, spec.exception)


def validation_description(errors: Any) -> str:
    """One line naming each bad field, e.g. ``limit: Input should be a valid integer``."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        parts.append(f"{'.'.join(loc) or 'body'}: {err.get('msg', 'invalid value')}")
    return "; ".join(parts) or "This is an invalid request."


async def _on_chat_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ChatError)
    return chat_error_response(request, exc)


async def _on_rest_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RestError)
    return _render(request, exc.status, exc.error, exc.description, exc.exception)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _render(
        request,
        _ILLEGAL.status,
        _ILLEGAL.error,
        validation_description(exc.errors()),
        _ILLEGAL.exception,
    )


_HTTP_ERRORS: Final = {
    404: ("service_resource_not_found", "ServiceResourceNotFoundException"),
    405: ("unsupported_service_operation", "UnsupportedServiceOperationException"),
    413: ("request_entity_too_large", "RequestEntityTooLargeException"),
}


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error, exception = _HTTP_ERRORS.get(exc.status_code, ("web_application", "WebApplication"))
    if exc.status_code == 404:
        description = f"Service resource not found: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        description = f"{request.method} is not supported on {request.url.path}"
    else:
        description = str(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return _render(request, exc.status_code, error, description, _PKG + exception, headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path: Starlette answers 405 from the first
    route that matched the path, so its own Allow header names only that route's."""
    path = request.url.path
    methods: set[str] = set()
    for pattern, served in getattr(request.app.state, "route_methods", ()):
        if pattern.match(path):
            methods |= served
    return sorted(methods)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    return _render(
        request,
        _INTERNAL.status,
        _INTERNAL.error,
        "The server failed in an unexpected way.",
        _INTERNAL.exception,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ChatError, _on_chat_error)
    app.add_exception_handler(RestError, _on_rest_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
