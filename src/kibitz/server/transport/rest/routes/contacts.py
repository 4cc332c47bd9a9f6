"""Contacts and block lists on Agora's paths: the Web SDK's calls with the user's own token
(agora-protocol-2.md §5.1) and the server API's with an app token (agora-rest.md §3.4). A
user token acts only as the user in the path.

    POST   /users/{u}/contacts/apply                 {usernames: [to], reason}   request
    POST   /users/{u}/contacts/accept/users/{f}      accept f's request
    POST   /users/{u}/contacts/decline/users/{f}     decline it
    POST   /users/{u}/contacts/users/{f}             the app adds f at once (no request)
    DELETE /users/{u}/contacts/users/{f}             delete (both sides)
    PUT    /users/{u}/contacts/users/{f}, /user/…    {remark}
    GET    /users/{u}/contacts/users[?needReturnRemark=true], /users/{u}/rosters
    GET    /users/{u}/contacts, /user/{u}/contacts   ?limit=&cursor=&needReturnRemark=  paged
    POST   /sdk/user/{u}/blocks, /users/{u}/blocks/users   {usernames}   block (≤ 50)
    DELETE /sdk/user/{u}/blocks {usernames}, /users/{u}/blocks/users/{b}  unblock
    GET    /users/{u}/blocks/users[?pageSize=&cursor=]                    newest first
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from kibitz.server.domain.contact_models import MAX_BLOCK_BATCH, Contact
from kibitz.server.domain.models import App

from ..deps import AdminDep, AppDep, SelfOrAdminDep, services_of
from ..envelope import ok, user_entity
from ..group_shapes import GroupDataEnvelope
from ..openapi import operation, operation_id
from .group_args import illegal, json_object, page_arg, resource_of, text

__all__ = ["router"]

router = APIRouter(prefix="/{org_name}/{app_name}", generate_unique_id_function=operation_id)

_BLOCK_ALL: Final = 500  # a block-list GET without paging answers up to this many


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class ContactApplyBody(_Body):
    usernames: list[str] = Field(min_length=1, max_length=1)
    reason: str | SkipJsonSchema[None] = None


class ContactRemarkBody(_Body):
    remark: str = Field(max_length=100)


class BlockUsersBody(_Body):
    usernames: list[str] | str = Field(description=f"≤ {MAX_BLOCK_BATCH} users, or one")


def _doc(
    body: type[BaseModel] | None = None, credential: Any = "self", errors: list[int] | None = None
) -> dict[str, Any]:
    return operation(ok=GroupDataEnvelope, credential=credential, body=body, errors=errors or [403])


def _names(value: Any) -> list[str]:
    """``usernames``: a list, or one name (the SDK sends either)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise illegal("'usernames' must be a list of usernames.")
    if len(value) > MAX_BLOCK_BATCH:
        raise illegal(f"at most {MAX_BLOCK_BATCH} users at once")
    return list(value)


def _flag(request: Request, key: str) -> bool:
    return request.query_params.get(key, "").lower() == "true"


def _cursor(value: str | None) -> str | None:
    """An opaque cursor (base64 of where the previous page ended)."""
    if value in (None, "", "undefined", "null"):
        return None
    try:
        padded = value + "=" * (-len(value) % 4)
        raw = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise illegal("'cursor' is not a cursor this server gave.") from exc


def _next(after: str | None) -> str | None:
    """Unpadded URL-safe base64: the SDK puts it in a query string unescaped."""
    if after is None:
        return None
    return base64.urlsafe_b64encode(after.encode()).decode("ascii").rstrip("=")


def _remarks(found: list[Contact]) -> list[dict[str, Any]]:
    return [{"username": c.username, "remark": c.remark or None} for c in found]


async def _entity(request: Request, app: App, username: str) -> dict[str, Any]:
    return user_entity(await services_of(request).accounts.get(app, username))


# -- requests and answers ----------------------------------------------------------------


@router.post("/users/{username}/contacts/apply", **_doc(ContactApplyBody))
async def contact_apply(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str
) -> JSONResponse:
    body = await json_object(request)
    names = _names(body.get("usernames"))
    if len(names) != 1:
        raise illegal("'usernames' must name one user.")
    reason = text(body, "reason") or ""
    contacts = services_of(request).contacts
    await contacts.request(app, username, names[0], reason, resource_of(request))
    return ok(request, app, path=f"/users/{username}/contacts/apply", data={"result": True})


@router.post("/users/{username}/contacts/accept/users/{friend}", **_doc())
async def contact_accept(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str, friend: str
) -> JSONResponse:
    await services_of(request).contacts.accept(app, username, friend, resource_of(request))
    return ok(request, app, path=f"/users/{username}/contacts/accept", data={"result": True})


@router.post("/users/{username}/contacts/decline/users/{friend}", **_doc())
async def contact_decline(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str, friend: str
) -> JSONResponse:
    await services_of(request).contacts.decline(app, username, friend, resource_of(request))
    return ok(request, app, path=f"/users/{username}/contacts/decline", data={"result": True})


@router.post("/users/{username}/contacts/users/{friend}", **_doc(credential="app"))
async def add_contact(
    request: Request, app: AppDep, _: AdminDep, username: str, friend: str
) -> JSONResponse:
    await services_of(request).contacts.add(app, username, friend)
    entities = [await _entity(request, app, friend)]
    return ok(request, app, path=f"/users/{username}/contacts", entities=entities)


@router.delete("/users/{username}/contacts/users/{friend}", **_doc())
async def delete_contact(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str, friend: str
) -> JSONResponse:
    await services_of(request).contacts.delete(app, username, friend, resource_of(request))
    entities = [await _entity(request, app, friend)]
    return ok(request, app, path=f"/users/{username}/contacts", entities=entities)


# -- remarks and lists -------------------------------------------------------------------


async def _remark(request: Request, app: App, username: str, friend: str) -> JSONResponse:
    body = await json_object(request)
    remark = text(body, "remark")
    if remark is None:
        raise illegal("'remark' is required.")
    await services_of(request).contacts.set_remark(app, username, friend, remark)
    return ok(request, app, path=f"/users/{username}/contacts", extra={"status": "ok"})


@router.put("/users/{username}/contacts/users/{friend}", **_doc(ContactRemarkBody))
async def contact_remark(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str, friend: str
) -> JSONResponse:
    return await _remark(request, app, username, friend)


@router.put("/user/{username}/contacts/users/{friend}", **_doc(ContactRemarkBody))
async def contact_remark_user(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str, friend: str
) -> JSONResponse:
    return await _remark(request, app, username, friend)


async def _all(request: Request, app: App, username: str) -> JSONResponse:
    found = await services_of(request).contacts.contacts(app, username)
    entities = _remarks(found) if _flag(request, "needReturnRemark") else []
    data = [c.username for c in found]
    path = f"/users/{username}/contacts/users"
    return ok(request, app, path=path, entities=entities, data=data, count=len(data))


@router.get("/users/{username}/contacts/users", **_doc())
async def contact_list(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str
) -> JSONResponse:
    return await _all(request, app, username)


@router.get("/users/{username}/rosters", **_doc())
async def contact_rosters(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str
) -> JSONResponse:
    return await _all(request, app, username)


async def _page(request: Request, app: App, username: str) -> JSONResponse:
    q = request.query_params
    limit = page_arg(q.get("limit") or q.get("pageSize"), 10, 1, 50, "limit")
    after = _cursor(q.get("cursor"))
    found, more = await services_of(request).contacts.page(app, username, limit, after)
    remarks = _flag(request, "needReturnRemark")
    listed = _remarks(found) if remarks else [{"username": c.username} for c in found]
    data: dict[str, Any] = {"contacts": listed, "cursor": _next(more)}
    path = f"/users/{username}/rostersByPage"
    return ok(request, app, path=path, entities=[], data=data, count=len(found))


@router.get("/users/{username}/contacts", **_doc())
async def contact_page(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str
) -> JSONResponse:
    return await _page(request, app, username)


@router.get("/user/{username}/contacts", **_doc())
async def contact_page_user(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str
) -> JSONResponse:
    return await _page(request, app, username)


# -- block lists -------------------------------------------------------------------------


async def _block(request: Request, app: App, username: str, on: bool) -> list[str]:
    names = _names((await json_object(request)).get("usernames"))
    contacts = services_of(request).contacts
    if on:
        return await contacts.block(app, username, names)
    return await contacts.unblock(app, username, names)


@router.post("/sdk/user/{username}/blocks", **_doc(BlockUsersBody))
async def sdk_block_users(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str
) -> JSONResponse:
    names = await _block(request, app, username, True)
    return ok(request, app, path=f"/sdk/user/{username}/blocks", data=names)


@router.delete("/sdk/user/{username}/blocks", **_doc(BlockUsersBody))
async def sdk_unblock_users(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str
) -> JSONResponse:
    names = await _block(request, app, username, False)
    return ok(request, app, path=f"/sdk/user/{username}/blocks", data=names)


@router.post("/users/{username}/blocks/users", **_doc(BlockUsersBody))
async def block_users(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str
) -> JSONResponse:
    names = await _block(request, app, username, True)
    return ok(request, app, path=f"/users/{username}/blocks", entities=[], data=names)


@router.delete("/users/{username}/blocks/users/{blocked}", **_doc())
async def unblock_user(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str, blocked: str
) -> JSONResponse:
    await services_of(request).contacts.unblock(app, username, [blocked])
    entities = [await _entity(request, app, blocked)]
    return ok(request, app, path=f"/users/{username}/blocks", entities=entities)


@router.get("/users/{username}/blocks/users", **_doc())
async def blocked_users(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str
) -> JSONResponse:
    q = request.query_params
    everyone = await services_of(request).contacts.blocked(app, username)
    paged = q.get("pageSize") not in (None, "", "undefined", "null") or _cursor(q.get("cursor"))
    if not paged:
        data = everyone[:_BLOCK_ALL]
        return ok(
            request, app, path=f"/users/{username}/blocks", entities=[], data=data, count=len(data)
        )
    size = page_arg(q.get("pageSize"), 50, 1, 50, "pageSize")
    start = _offset(_cursor(q.get("cursor")))
    data = everyone[start : start + size]
    more = start + size < len(everyone)
    return ok(
        request,
        app,
        path=f"/users/{username}/blocks",
        entities=[],
        data=data,
        count=len(data),
        cursor=_next(str(start + size)) if more else None,
    )


def _offset(after: str | None) -> int:
    if after is None:
        return 0
    if not after.isascii() or not after.isdigit():
        raise illegal("'cursor' is not a cursor this server gave.")
    return int(after)
