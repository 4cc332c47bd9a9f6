"""``/{org}/{app}/mutes``: app-wide mutes of a user (agora-rest.md §3.7), with an app token.

POST /mutes {"username": "bob", "chat": 60, "groupchat": -1}   → data {"result": "ok"}
GET  /mutes/bob      → data {"userid": "bob", "chat": 57, "groupchat": -1, "chatroom": 0,
                             "unixtime": …}   (seconds left; -1 for ever; 0 not muted)
GET  /mutes?pageNum=1&pageSize=10  → data {"data": [{"username": "bob", "chat": 57}, …],
                                           "unixtime": …}
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from kibitz.server.domain.global_mutes import KINDS, MAX_SECONDS

from ..deps import AdminDep, AppDep, services_of
from ..envelope import ok
from ..group_shapes import GroupDataEnvelope
from ..openapi import operation, operation_id
from .group_args import PageNum, illegal, json_object, page_arg

__all__ = ["router"]

router = APIRouter(prefix="/{org_name}/{app_name}", generate_unique_id_function=operation_id)


class GlobalMuteBody(BaseModel):
    username: str
    chat: int | SkipJsonSchema[None] = Field(default=None, ge=-1, le=MAX_SECONDS)
    groupchat: int | SkipJsonSchema[None] = Field(default=None, ge=-1, le=MAX_SECONDS)
    chatroom: int | SkipJsonSchema[None] = Field(default=None, ge=-1, le=MAX_SECONDS)


def _seconds(body: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for kind in KINDS:
        if kind not in body:
            continue
        value = body[kind]
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise illegal(f"'{kind}' must be a number of seconds.")
        try:
            out[kind] = int(value)
        except ValueError as exc:
            raise illegal(f"'{kind}' must be a number of seconds.") from exc
    return out


@router.post("/mutes", **operation(ok=GroupDataEnvelope, body=GlobalMuteBody))
async def mute(request: Request, app: AppDep, _: AdminDep) -> JSONResponse:
    body = await json_object(request)
    username = body.get("username")
    if not isinstance(username, str) or not username:
        raise illegal("'username' is required.")
    await services_of(request).mutes.set(app, username, _seconds(body))
    return ok(request, app, path="/mutes", data={"result": "ok"})


@router.get("/mutes/{username}", **operation(ok=GroupDataEnvelope))
async def mute_of(request: Request, app: AppDep, _: AdminDep, username: str) -> JSONResponse:
    mutes = services_of(request).mutes
    found = await mutes.get(app, username)
    now = mutes.now_ms()
    data: dict[str, Any] = {"userid": username}
    data.update({kind: found.remaining_s(kind, now) for kind in KINDS})
    data["unixtime"] = now // 1000
    return ok(request, app, path="/mutes", data=data)


@router.get("/mutes", **operation(ok=GroupDataEnvelope))
async def muted(
    request: Request,
    app: AppDep,
    _: AdminDep,
    pageNum: PageNum = None,  # Agora's names
    pageSize: PageNum = None,
) -> JSONResponse:
    number = page_arg(pageNum, 1, 1, 1_000_000, "pageNum")
    size = page_arg(pageSize, 10, 1, 1_000, "pageSize")
    mutes = services_of(request).mutes
    now = mutes.now_ms()
    items = [
        {"username": m.username, kind: m.remaining_s(kind, now)}
        for m in await mutes.muted(app)
        for kind in KINDS
        if m.active(kind, now)
    ]
    page = items[(number - 1) * size : number * size]
    return ok(request, app, path="/mutes", data={"data": page, "unixtime": now // 1000})
