"""Accounts, on Agora's paths and JSON (agora-rest.md §3.1). All routes need an app
credential; a user token is refused.

    POST   /users                     register one (object) or up to 60 (array)
    GET    /users/{u}                 one user
    GET    /users?limit&cursor        a page, oldest first; ``cursor`` is opaque
    DELETE /users/{u}                 delete one
    DELETE /users?limit&cursor        delete the oldest ``limit`` (≤ 100)
    PUT    /users/{u}/password        {"newpassword"}; old user tokens stop working
    POST   /users/{u}/deactivate      ban (forced offline) / unban with /activate
    GET|POST /users/{u}/disconnect    force logout of every device
    GET|POST|DELETE /users/{u}/disconnect/{resource}   one device (admin or the user)
    GET    /users/{u}/status          {"u": "online"|"offline"}
    POST   /users/batch/status        {"usernames": [≤ 100]}
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.domain.accounts import NewUser, validate_username
from kibitz.server.domain.models import App

from ..deps import (
    REGISTRATION_CLOSED,
    AdminDep,
    AppDep,
    RegistrarDep,
    SelfOrAdminDep,
    parse_model,
    read_json,
    services_of,
)
from ..envelope import ok, query_params, user_entity
from ..errors import RestError
from ..openapi import operation, operation_id
from ..schemas import NewPassword, Usernames, UserSpec
from ..shapes import (
    BatchStatusEnvelope,
    Envelope,
    NewPasswordBody,
    RegisterEnvelope,
    ResultEnvelope,
    StatusEnvelope,
    UserEnvelope,
    UserPage,
    UsersBody,
)

__all__ = ["router"]

router = APIRouter(prefix="/{org_name}/{app_name}/users", generate_unique_id_function=operation_id)

PATH: Final = "/users"
MISSING_USERNAME: Final = "Entity 'user' requires a property named username."
Limit = Annotated[int, Query(ge=1, le=100)]


def _illegal(description: str) -> RestError:
    return RestError(400, "illegal_argument", description, "IllegalArgumentException")


def encode_cursor(position: tuple[int, str]) -> str:
    raw = f"{position[0]}:{position[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int, str] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, sep, user_id = raw.partition(":")
        position = int(created)
        # The position is a creation time in ms: anything a SQL integer cannot hold (or
        # before 1970) was never handed out.
        if not sep or not user_id or not 0 <= position < 2**63:
            raise ValueError(raw)
        return position, user_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _illegal("The cursor is not valid.") from exc


def _spec(item: Any) -> NewUser:
    if not isinstance(item, dict):
        raise _illegal("Each user must be a JSON object.")
    if item.get("username") in (None, ""):
        raise _illegal(MISSING_USERNAME)
    if not isinstance(item["username"], str):
        raise _illegal(f"{item['username']} is not legal.")
    spec = parse_model(UserSpec, item)
    return NewUser(username=spec.username, password=spec.password, nickname=spec.nickname)


@router.post("", **operation(ok=RegisterEnvelope, body=UsersBody))
async def register(request: Request, app: AppDep, registrar: RegistrarDep) -> JSONResponse:
    body = await read_json(request)
    batch = isinstance(body, list)
    if registrar is None and batch:  # open registration: one account per call
        raise RestError(401, "unauthorized", REGISTRATION_CLOSED, "UnauthorizedException")
    items = body if batch else [body]
    specs = [_spec(item) for item in items]
    result = await services_of(request).accounts.register(app, specs)
    if not batch and result.failed:
        raise ChatError(
            ErrorCode.USER_ALREADY_EXIST,
            f"Entity user requires that property named username be unique, "
            f"value of {specs[0].username} exists",
        )
    failures = [
        {"username": name, "registerUserFailReason": reason} for name, reason in result.failed
    ]
    if failures:
        return ok(
            request,
            app,
            path=PATH,
            entities=[user_entity(u) for u in result.created],
            data=failures,
        )
    return ok(request, app, path=PATH, entities=[user_entity(u) for u in result.created])


@router.get("", **operation(ok=UserPage))
async def list_users(
    request: Request,
    app: AppDep,
    _: AdminDep,
    limit: Limit = 10,
    cursor: str | None = None,
) -> JSONResponse:
    page, after = await services_of(request).accounts.page(app, limit, decode_cursor(cursor))
    return ok(
        request,
        app,
        path=PATH,
        params=query_params(request),
        entities=[user_entity(u) for u in page],
        count=len(page),
        cursor=None if after is None else encode_cursor(after),
    )


@router.delete("", **operation(ok=UserPage))
async def delete_oldest(
    request: Request, app: AppDep, _: AdminDep, limit: Limit, cursor: str | None = None
) -> JSONResponse:
    accounts = services_of(request).accounts
    page, after = await accounts.page(app, limit, decode_cursor(cursor))
    deleted = await accounts.delete(app, [u.username for u in page])
    position = {u.id: i for i, u in enumerate(page)}
    deleted.sort(key=lambda u: position.get(u.id, len(page)))  # oldest first, as listed
    return ok(
        request,
        app,
        path=PATH,
        params=query_params(request),
        entities=[user_entity(u) for u in deleted],
        count=len(deleted),
        cursor=None if after is None else encode_cursor(after),
    )


@router.post("/batch/status", **operation(ok=BatchStatusEnvelope, body=Usernames))
async def batch_status(request: Request, app: AppDep, _: AdminDep) -> JSONResponse:
    names = parse_model(Usernames, await read_json(request)).usernames
    online = await services_of(request).accounts.online(app, names)
    data = [{name: "online" if name in online else "offline"} for name in names]
    return ok(request, app, path=PATH, action="get batch user status", data=data)


@router.get("/{username}", **operation(ok=UserEnvelope))
async def get_user(request: Request, app: AppDep, _: AdminDep, username: str) -> JSONResponse:
    user = await services_of(request).accounts.get(app, username)
    return ok(request, app, path=PATH, entities=[user_entity(user)], count=1)


@router.delete("/{username}", **operation(ok=UserEnvelope))
async def delete_user(request: Request, app: AppDep, _: AdminDep, username: str) -> JSONResponse:
    deleted = await services_of(request).accounts.delete(app, [username])
    if not deleted:
        raise ChatError(ErrorCode.USER_NOT_FOUND, f"username {username} doesn't exist")
    return ok(request, app, path=PATH, entities=[user_entity(u) for u in deleted])


@router.put("/{username}/password", **operation(ok=Envelope, body=NewPasswordBody))
async def set_password(request: Request, app: AppDep, _: AdminDep, username: str) -> JSONResponse:
    body = parse_model(NewPassword, await read_json(request))
    await services_of(request).accounts.set_password(app, username, body.newpassword)
    return ok(request, app, path=PATH, action="set user password")


async def _set_activated(request: Request, app: App, username: str, on: bool) -> JSONResponse:
    user = await services_of(request).accounts.set_activated(app, username, on)
    action = "activate user" if on else "Deactivate user"
    return ok(request, app, path=PATH, action=action, entities=[user_entity(user)])


@router.post("/{username}/deactivate", **operation(ok=UserEnvelope))
async def deactivate(request: Request, app: AppDep, _: AdminDep, username: str) -> JSONResponse:
    return await _set_activated(request, app, username, False)


@router.post("/{username}/activate", **operation(ok=UserEnvelope))
async def activate(request: Request, app: AppDep, _: AdminDep, username: str) -> JSONResponse:
    return await _set_activated(request, app, username, True)


@router.api_route("/{username}/disconnect", methods=["GET", "POST"], **operation(ok=ResultEnvelope))
async def disconnect(request: Request, app: AppDep, _: AdminDep, username: str) -> JSONResponse:
    await services_of(request).accounts.disconnect(app, username)
    return ok(request, app, path=PATH, entities=[], data={"result": True})


@router.api_route(
    "/{username}/disconnect/{resource}",
    methods=["GET", "POST", "DELETE"],
    **operation(ok=ResultEnvelope, credential="self"),
)
async def disconnect_device(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str, resource: str
) -> JSONResponse:
    """One device off: by an admin, or by the user itself from another of its devices."""
    await services_of(request).accounts.disconnect(app, username, resource)
    return ok(request, app, path=PATH, entities=[], data={"result": True})


@router.get("/{username}/status", **operation(ok=StatusEnvelope))
async def status(request: Request, app: AppDep, _: AdminDep, username: str) -> JSONResponse:
    validate_username(username)
    online = await services_of(request).accounts.online(app, [username])
    state = "online" if username in online else "offline"
    return ok(request, app, path=PATH, entities=[], data={username: state}, count=0)
