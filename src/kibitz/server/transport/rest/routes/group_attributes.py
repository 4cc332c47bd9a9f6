"""Group member attributes on Agora's paths: the Web SDK's under ``/sdk/metadata``, the
server API's under ``/metadata`` (agora-protocol-2.md §3.5, agora-rest.md §3.5).

    PUT  [/sdk]/metadata/chatgroup/{g}/user/{u}   {"metaData": {k: v}} ("" removes k)
    GET  /metadata/chatgroup/{g}/user/{u}          all of one member's
    POST [/sdk]/metadata/chatgroup/{g}/get         {"targets": [≤ 10], "properties": [keys]}
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..deps import AppDep, services_of
from ..envelope import ok
from ..group_shapes import AttributesBody, AttributesQuery, GroupDataEnvelope
from ..openapi import operation
from .group_args import actor_of, illegal, json_object, principal_of, resource_of

__all__ = ["router"]

router = APIRouter(prefix="/{org_name}/{app_name}")

_DOC: dict[str, Any] = {"ok": GroupDataEnvelope, "credential": "member", "errors": [403]}


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise illegal(f"'{what}' must be a list of strings.")
    return list(value)


async def _set(request: Request, app: Any, group_id: str, username: str) -> JSONResponse:
    principal = await principal_of(request, app)
    values = (await json_object(request)).get("metaData")
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in values.items()
    ):
        raise illegal("'metaData' must be an object of strings.")
    attributes = services_of(request).attributes
    after = await attributes.set(
        app, group_id, actor_of(principal), username, values, resource_of(request)
    )
    return ok(request, app, path=f"/metadata/chatgroup/{group_id}/user/{username}", data=after)


async def _get(request: Request, app: Any, group_id: str) -> JSONResponse:
    await principal_of(request, app)
    body = await json_object(request)
    targets = _strings(body.get("targets"), "targets")
    if not targets:
        raise illegal("'targets' must name at least one member.")
    keys = _strings(body.get("properties"), "properties")
    found = await services_of(request).attributes.get(app, group_id, targets, keys)
    return ok(request, app, path=f"/metadata/chatgroup/{group_id}/get", data=found)


@router.put(
    "/sdk/metadata/chatgroup/{group_id}/user/{username}",
    **operation(ok=GroupDataEnvelope, credential="member", errors=[403], body=AttributesBody),
)
async def sdk_set_attributes(
    request: Request, app: AppDep, group_id: str, username: str
) -> JSONResponse:
    return await _set(request, app, group_id, username)


@router.put(
    "/metadata/chatgroup/{group_id}/user/{username}",
    **operation(ok=GroupDataEnvelope, credential="member", errors=[403], body=AttributesBody),
)
async def set_attributes(
    request: Request, app: AppDep, group_id: str, username: str
) -> JSONResponse:
    return await _set(request, app, group_id, username)


@router.get("/metadata/chatgroup/{group_id}/user/{username}", **operation(**_DOC))
async def member_attributes(
    request: Request, app: AppDep, group_id: str, username: str
) -> JSONResponse:
    await principal_of(request, app)
    found = await services_of(request).attributes.get(app, group_id, [username])
    path = f"/metadata/chatgroup/{group_id}/user/{username}"
    return ok(request, app, path=path, data=found.get(username, {}))


@router.post(
    "/sdk/metadata/chatgroup/{group_id}/get",
    **operation(ok=GroupDataEnvelope, credential="member", errors=[403], body=AttributesQuery),
)
async def sdk_get_attributes(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    return await _get(request, app, group_id)


@router.post(
    "/metadata/chatgroup/{group_id}/get",
    **operation(ok=GroupDataEnvelope, credential="member", errors=[403], body=AttributesQuery),
)
async def get_attributes(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    return await _get(request, app, group_id)
