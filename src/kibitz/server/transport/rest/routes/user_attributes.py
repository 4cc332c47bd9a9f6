"""User attributes (Agora's user info) on Agora's paths (agora-rest.md §3.3,
agora-protocol-2.md §12)::

    PUT    /metadata/user/{u}         k=v&k=v (form-encoded, as the Web SDK sends it) or a
                                      JSON object of strings → data: the pairs set
    GET    /metadata/user/{u}         data: all of the user's pairs
    POST   /metadata/user/get         {"targets": [≤ 100], "properties": [keys]} → {u: {k: v}}
    GET    /metadata/user/capacity    data: the bytes the app's attributes take (app token)
    DELETE /metadata/user/{u}         data: true

A user token sets and deletes only its own user's; anyone of the app reads.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import SkipJsonSchema

from kibitz.server.domain.user_attributes import MAX_FETCH

from ..deps import (
    AdminDep,
    AppDep,
    SelfOrAdminDep,
    authenticate,
    body_bytes,
    read_json,
    services_of,
)
from ..envelope import ok
from ..openapi import operation, operation_id
from ..shapes import Envelope
from .group_args import illegal

__all__ = ["router"]

router = APIRouter(
    prefix="/{org_name}/{app_name}/metadata/user", generate_unique_id_function=operation_id
)


class UserAttributesEnvelope(Envelope):
    """``data``: the pairs (PUT, GET), ``{user: {k: v}}`` (batch), bytes (capacity) or
    ``true`` (DELETE)."""

    data: Any
    entities: list[Any] | SkipJsonSchema[None] = None


class UserAttributesBody(RootModel[dict[str, str]]):
    """The pairs to set (``application/x-www-form-urlencoded`` is read as well)."""


class UserAttributesQuery(BaseModel):
    model_config = ConfigDict(extra="allow")
    targets: list[str] = Field(min_length=1, description=f"At most {MAX_FETCH} usernames")
    properties: list[str] | None = None


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise illegal(f"'{what}' must be a list of strings.")
    return list(value)


async def _pairs(request: Request) -> dict[str, str]:
    """The body as pairs: form-encoded (the Web SDK) or a JSON object (the mini-program
    builds, server clients); a value that is a number or a boolean is taken as its text."""
    content_type = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" in content_type:
        raw = await body_bytes(request)
        try:
            text = raw.decode()
        except UnicodeDecodeError as exc:
            raise illegal("The form body is not UTF-8.") from exc
        pairs = parse_qsl(text, keep_blank_values=True)
        if not pairs:
            raise illegal("The request needs at least one key=value pair.")
        return dict(pairs)
    body = await read_json(request)
    if not isinstance(body, dict) or not body:
        raise illegal("The body must be an object of attributes.")
    values: dict[str, str] = {}
    for key, value in body.items():
        if isinstance(value, bool):
            values[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            values[key] = str(value)
        else:
            raise illegal(f"The attribute '{key}' must be a string.")
    return values


@router.put(
    "/{username}",
    **operation(ok=UserAttributesEnvelope, credential="self", body=UserAttributesBody),
)
async def set_user_attributes(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str
) -> JSONResponse:
    values = await _pairs(request)
    services = services_of(request)
    await services.accounts.get(app, username)  # 404 for an unknown user
    data = await services.user_info.set(app, username, values)
    return ok(request, app, path=f"/metadata/user/{username}", data=data)


@router.get("/capacity", **operation(ok=UserAttributesEnvelope))
async def user_attributes_capacity(request: Request, app: AppDep, _: AdminDep) -> JSONResponse:
    used = await services_of(request).user_info.capacity(app)
    return ok(request, app, path="/metadata/user/capacity", data=used)


@router.post(
    "/get", **operation(ok=UserAttributesEnvelope, credential="member", body=UserAttributesQuery)
)
async def fetch_user_attributes(request: Request, app: AppDep) -> JSONResponse:
    await authenticate(request, app)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise illegal("The request body must be a JSON object.")
    targets = _strings(body.get("targets"), "targets")
    keys = _strings(body.get("properties"), "properties")
    found = await services_of(request).user_info.fetch(app, targets, keys)
    return ok(request, app, path="/metadata/user/get", data=found)


@router.get("/{username}", **operation(ok=UserAttributesEnvelope, credential="member"))
async def get_user_attributes(request: Request, app: AppDep, username: str) -> JSONResponse:
    await authenticate(request, app)
    services = services_of(request)
    await services.accounts.get(app, username)
    data = await services.user_info.get(app, username)
    return ok(request, app, path=f"/metadata/user/{username}", data=data)


@router.delete("/{username}", **operation(ok=UserAttributesEnvelope, credential="self"))
async def delete_user_attributes(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str
) -> JSONResponse:
    services = services_of(request)
    await services.accounts.get(app, username)
    await services.user_info.delete(app, username)
    return ok(request, app, path=f"/metadata/user/{username}", data=True)
