"""Presence on Agora's paths (agora-rest.md §3.8, agora-protocol-2.md §6); every answer is
the bare ``{"result": …}`` envelope::

    POST   /users/{u}/presence/{resource}/{status}  {"ext": "…"} → "ok" (publish)
    POST   /users/{u}/presence/{expiry}             {"usernames": [≤ 100]} → [presence…]
    POST   /users/{u}/presence                      {"usernames": [≤ 100]} → [presence…]
    DELETE /users/{u}/presence                      ["name", …] → "ok"
    GET    /users/{u}/presence/sublist?pageNum=&pageSize= → {"totalnum", "sublist"}

where a presence is ``{uid, last_time, expiry, ext, status: {resource: "1"}}``. A user token
acts only as the user in the path; an app token as anyone.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import SkipJsonSchema

from kibitz.server.domain.models import App
from kibitz.server.domain.presence import MAX_PER_CALL, PresenceService, PresenceView

from ..deps import AppDep, SelfOrAdminDep, read_json, services_of
from ..openapi import operation, operation_id
from .group_args import PageNum, illegal, page_arg

__all__ = ["router"]

router = APIRouter(
    prefix="/{org_name}/{app_name}/users/{username}/presence",
    generate_unique_id_function=operation_id,
)


class PresenceResult(BaseModel):
    """``result``: "ok", a list of presences, or the subscription page."""

    model_config = ConfigDict(extra="allow")
    result: Any


class PresencePublishBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    ext: str | SkipJsonSchema[None] = Field(None, description="At most 1,024 bytes")


class PresenceUsersBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    usernames: list[str] = Field(min_length=1, description=f"At most {MAX_PER_CALL}")


class PresenceUnsubscribeBody(RootModel[list[str]]):
    """The usernames (``{"usernames": […]}`` is read as well)."""


def _result(value: Any) -> JSONResponse:
    return JSONResponse({"result": value})


def _views(views: list[PresenceView]) -> JSONResponse:
    return _result([v.as_json() for v in views])


async def _presence_of(request: Request, app: App, username: str) -> PresenceService:
    """The service, once the user in the path is known to exist (404 otherwise)."""
    services = services_of(request)
    await services.accounts.get(app, username)
    return services.presence


def _names(body: Any, *keys: str) -> list[str]:
    value = body
    if isinstance(body, dict):
        value = next((body[k] for k in keys if k in body), None)
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise illegal("'usernames' must be a list of usernames.")
    return list(value)


@router.post(
    "/{resource}/{status}",
    **operation(ok=PresenceResult, credential="self", body=PresencePublishBody),
)
async def publish_presence(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str, resource: str, status: str
) -> JSONResponse:
    body = await read_json(request)
    ext = body.get("ext") if isinstance(body, dict) else None
    if ext is not None and not isinstance(ext, str):
        raise illegal("'ext' must be a string.")
    await services_of(request).presence.publish(app, username, resource, status, ext or "")
    return _result("ok")


@router.get("/sublist", **operation(ok=PresenceResult, credential="self"))
async def presence_subscriptions(
    request: Request,
    app: AppDep,
    _: SelfOrAdminDep,
    username: str,
    pageNum: PageNum = None,
    pageSize: PageNum = None,
) -> JSONResponse:
    number = page_arg(pageNum, 1, 1, 1_000_000, "pageNum")
    size = page_arg(pageSize, 20, 1, 500, "pageSize")
    presence = await _presence_of(request, app, username)
    total, page = await presence.subscriptions(app, username, number, size)
    sublist = [{"uid": s.username, "expiry": str(s.expires_ms // 1000)} for s in page]
    return _result({"totalnum": str(total), "sublist": sublist})


@router.post("/{expiry}", **operation(ok=PresenceResult, credential="self", body=PresenceUsersBody))
async def subscribe_presence(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str, expiry: str
) -> JSONResponse:
    try:
        seconds = int(expiry)
    except ValueError as exc:
        raise illegal("'expiry' must be a number of seconds.") from exc
    targets = _names(await read_json(request), "usernames")
    presence = await _presence_of(request, app, username)
    views = await presence.subscribe(app, username, targets, seconds)
    return _views(views)


@router.post("", **operation(ok=PresenceResult, credential="self", body=PresenceUsersBody))
async def presence_statuses(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str
) -> JSONResponse:
    targets = _names(await read_json(request), "usernames")
    presence = await _presence_of(request, app, username)
    return _views(await presence.statuses(app, username, targets))


@router.delete("", **operation(ok=PresenceResult, credential="self", body=PresenceUnsubscribeBody))
async def unsubscribe_presence(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str
) -> JSONResponse:
    targets = _names(await read_json(request), "usernames", "users")
    await (await _presence_of(request, app, username)).unsubscribe(app, username, targets)
    return _result("ok")
