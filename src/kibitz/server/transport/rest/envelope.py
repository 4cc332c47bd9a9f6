"""Agora's success envelope. Every success is HTTP 200 (the Web SDK treats 201/204 as
failures), shaped as agora-rest.md §2::

    {"action": "post", "application": "<app uuid>", "path": "/users", "uri": "http://…",
     "entities": [...], "data": ..., "timestamp": 1700000000000, "duration": 3,
     "organization": "acme", "applicationName": "chat", "count": 1, "cursor": "…"}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fastapi import Request
from fastapi.responses import JSONResponse

from kibitz.server.domain.models import App, User

from .deps import services_of
from .middleware import elapsed_ms

__all__ = ["ok", "query_params", "user_entity"]

_UNSET: Final = object()


def user_entity(user: User) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "uuid": user.id,
        "type": "user",
        "created": user.created_ms,
        "modified": user.modified_ms,
        "username": user.username,
        "activated": user.activated,
    }
    if user.nickname is not None:
        entity["nickname"] = user.nickname
    return entity


def query_params(request: Request) -> dict[str, list[str]]:
    """Agora echoes the query as ``params``, each value a list (``{"limit": ["2"]}``)."""
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


def ok(
    request: Request,
    app: App,
    *,
    path: str,
    action: str | None = None,
    entities: list[dict[str, Any]] | None = None,
    data: Any = _UNSET,
    count: int | None = None,
    cursor: str | None = None,
    params: Mapping[str, list[str]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """The 200 answer; ``action`` defaults to the lower-case HTTP method, as Agora's does."""
    body: dict[str, Any] = {
        "action": action or request.method.lower(),
        "application": app.id,
        "path": path,
        "uri": str(request.url.replace(query="", fragment="")),
    }
    if params:
        body["params"] = dict(params)
    if entities is not None:
        body["entities"] = entities
    if data is not _UNSET:
        body["data"] = data
    body["timestamp"] = services_of(request).clock.now_ms()
    body["duration"] = elapsed_ms(request.scope)
    body["organization"] = app.org_name
    body["applicationName"] = app.app_name
    if count is not None:
        body["count"] = count
    if cursor is not None:
        body["cursor"] = cursor
    if extra:
        body.update(extra)
    return JSONResponse(body)
