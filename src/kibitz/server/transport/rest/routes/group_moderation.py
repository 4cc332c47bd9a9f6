"""Moderating groups on Agora's paths (agora-rest.md §3.5; the Web SDK's calls,
agora-protocol-2.md §3.4–§3.5): an app token, or the owner or an admin with its own token.

    POST|GET /chatgroups/{g}/mute, DELETE /chatgroups/{g}/mute/{u[,u…]}   mutes (ms)
    GET    /sdk/chatgroups/{g}/mute/{u}                 am I muted
    POST|DELETE /chatgroups/{g}/ban                     mute everyone / stop
    POST|GET /chatgroups/{g}/white/users[/{u}], DELETE …/white/users/{u[,u…]}
    POST|GET /chatgroups/{g}/blocks/users[/{u}], DELETE …/blocks/users/{u[,u…]}
    GET|POST /chatgroups/{g}/announcement
    POST   /chatgroups/{g}/disable | /enable            the app only
    POST|DELETE /chatgroups/{g}/shield                 a member stops / resumes hearing

Allow- and block-list mutations always answer ``data`` as a list of ``{result, user, …}``:
4.21 (``version=v3``) reads ``data[0]`` even for one user.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kibitz.server.domain.auth import Principal
from kibitz.server.domain.group_models import ListKind

from ..deps import AppDep, services_of
from ..envelope import ok
from ..errors import RestError
from ..group_shapes import AnnouncementBody, GroupDataEnvelope, MuteBody, UsernamesBody
from ..openapi import operation
from .group_args import (
    actor_of,
    illegal,
    integer,
    json_object,
    principal_of,
    resource_of,
    text,
    user_actor,
    usernames_of,
)

__all__ = ["router"]

router = APIRouter(prefix="/{org_name}/{app_name}")


def _doc(body: type[BaseModel] | None = None) -> dict[str, Any]:
    """The OpenAPI keywords of a route here: an app token, or the owner's or an admin's."""
    return operation(ok=GroupDataEnvelope, credential="member", errors=[403], body=body)


def _names_in_path(value: str) -> list[str]:
    return usernames_of([n for n in value.split(",") if n])


def _names_in_body(body: dict[str, Any]) -> list[str]:
    value = body.get("usernames")
    return usernames_of([value] if isinstance(value, str) else value)


# -- mutes ---------------------------------------------------------------------------------


@router.post("/chatgroups/{group_id}/mute", **_doc(MuteBody))
async def mute(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    principal = await principal_of(request, app)
    body = await json_object(request)
    duration = integer(body, "mute_duration")
    if duration is None:
        raise illegal("'mute_duration' (ms, or -1 for no expiry) is required.")
    moderation = services_of(request).moderation
    expiry = await moderation.mute(
        app, group_id, actor_of(principal), _names_in_body(body), duration, resource_of(request)
    )
    data = [{"result": True, "expire": ms, "user": user} for user, ms in expiry.items()]
    return ok(request, app, path=f"/chatgroups/{group_id}/mute", data=data)


@router.delete("/chatgroups/{group_id}/mute/{usernames}", **_doc())
async def unmute(request: Request, app: AppDep, group_id: str, usernames: str) -> JSONResponse:
    principal = await principal_of(request, app)
    moderation = services_of(request).moderation
    names = await moderation.unmute(
        app, group_id, actor_of(principal), _names_in_path(usernames), resource_of(request)
    )
    data = [{"result": True, "user": n} for n in names]
    return ok(request, app, path=f"/chatgroups/{group_id}/mute", data=data)


@router.get("/chatgroups/{group_id}/mute", **_doc())
async def mute_list(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    await principal_of(request, app)
    muted = await services_of(request).moderation.mutes(app, group_id)
    data = [{"user": user, "expire": ms} for user, ms in muted.items()]
    return ok(request, app, path=f"/chatgroups/{group_id}/mute", data=data)


@router.get("/sdk/chatgroups/{group_id}/mute/{username}", **_doc())
async def is_muted(request: Request, app: AppDep, group_id: str, username: str) -> JSONResponse:
    await principal_of(request, app)
    muted = await services_of(request).moderation.mutes(app, group_id)
    return ok(request, app, path=f"/sdk/chatgroups/{group_id}/mute", data=username in muted)


@router.post("/chatgroups/{group_id}/ban", **_doc())
async def mute_all(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    principal = await principal_of(request, app)
    moderation = services_of(request).moderation
    await moderation.mute_all(app, group_id, actor_of(principal), True, resource_of(request))
    return ok(request, app, path=f"/chatgroups/{group_id}/ban", data={"mute": True})


@router.delete("/chatgroups/{group_id}/ban", **_doc())
async def unmute_all(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    principal = await principal_of(request, app)
    moderation = services_of(request).moderation
    await moderation.mute_all(app, group_id, actor_of(principal), False, resource_of(request))
    return ok(request, app, path=f"/chatgroups/{group_id}/ban", data={"mute": False})


# -- allow list and block list -------------------------------------------------------------

_LISTS = {"white": ListKind.ALLOW, "blocks": ListKind.BLOCK}


async def _change(
    request: Request,
    app: Any,
    group_id: str,
    which: Which,
    names: list[str],
    on: bool,
    principal: Principal | None = None,
) -> JSONResponse:
    if principal is None:
        principal = await principal_of(request, app)
    moderation = services_of(request).moderation
    actor, resource = actor_of(principal), resource_of(request)
    if which == "white":
        done = await moderation.allow(app, group_id, actor, names, on, resource)
        action = "add_user_whitelist" if on else "remove_user_whitelist"
    elif on:
        done = await moderation.block(app, group_id, actor, names, resource)
        action = "add_blocks"
    else:
        done = await moderation.unblock(app, group_id, actor, names)
        action = "remove_blocks"
    data = [{"result": True, "action": action, "groupid": group_id, "user": n} for n in done]
    return ok(request, app, path=f"/chatgroups/{group_id}/{which}/users", data=data)


Which = Literal["white", "blocks"]  # the allow list, the block list


@router.post("/chatgroups/{group_id}/{which}/users", **_doc(UsernamesBody))
async def add_to_list(request: Request, app: AppDep, group_id: str, which: Which) -> JSONResponse:
    principal = await principal_of(request, app)  # a credential before the body
    names = _names_in_body(await json_object(request))
    return await _change(request, app, group_id, which, names, True, principal)


@router.post("/chatgroups/{group_id}/{which}/users/{username}", **_doc())
async def add_one_to_list(
    request: Request, app: AppDep, group_id: str, which: Which, username: str
) -> JSONResponse:
    return await _change(request, app, group_id, which, [username], True)


@router.delete("/chatgroups/{group_id}/{which}/users/{usernames}", **_doc())
async def remove_from_list(
    request: Request, app: AppDep, group_id: str, which: Which, usernames: str
) -> JSONResponse:
    names = _names_in_path(usernames)
    return await _change(request, app, group_id, which, names, False)


@router.get("/chatgroups/{group_id}/{which}/users", **_doc())
async def get_list(request: Request, app: AppDep, group_id: str, which: Which) -> JSONResponse:
    await principal_of(request, app)
    kind = _LISTS[which]
    names = await services_of(request).moderation.listed(app, group_id, kind)
    return ok(request, app, path=f"/chatgroups/{group_id}/{which}/users", data=names)


@router.get("/chatgroups/{group_id}/{which}/users/{username}", **_doc())
async def in_list(
    request: Request, app: AppDep, group_id: str, which: Which, username: str
) -> JSONResponse:
    await principal_of(request, app)
    kind = _LISTS[which]
    names = await services_of(request).moderation.listed(app, group_id, kind)
    member = await services_of(request).groups.member(app, group_id, username)
    data = {"member": member is not None, "white": username in names}
    return ok(request, app, path=f"/chatgroups/{group_id}/{which}/users", data=data)


# -- announcement and the app's switch -----------------------------------------------------


@router.get("/chatgroups/{group_id}/announcement", **_doc())
async def get_announcement(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    await principal_of(request, app)
    group = await services_of(request).groups.get(app, group_id)
    path = f"/chatgroups/{group_id}/announcement"
    return ok(request, app, path=path, data={"announcement": group.announcement})


@router.post("/chatgroups/{group_id}/announcement", **_doc(AnnouncementBody))
async def set_announcement(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    principal = await principal_of(request, app)
    announcement = text(await json_object(request), "announcement")
    if announcement is None:
        raise illegal("'announcement' is required.")
    moderation = services_of(request).moderation
    await moderation.announce(
        app, group_id, actor_of(principal), announcement, resource_of(request)
    )
    path = f"/chatgroups/{group_id}/announcement"
    return ok(request, app, path=path, data={"id": group_id, "result": True})


async def _switch(request: Request, app: Any, group_id: str, disabled: bool) -> JSONResponse:
    principal = await principal_of(request, app)
    if not principal.is_app:
        raise RestError(
            401, "unauthorized", "This operation requires an app token.", "UnauthorizedException"
        )
    group = await services_of(request).moderation.set_disabled(app, group_id, disabled)
    path = f"/chatgroups/{group_id}/{'disable' if disabled else 'enable'}"
    return ok(request, app, path=path, data={"disabled": group.disabled})


@router.post("/chatgroups/{group_id}/disable", **operation(ok=GroupDataEnvelope, credential="app"))
async def disable_group(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    return await _switch(request, app, group_id, True)


@router.post("/chatgroups/{group_id}/enable", **operation(ok=GroupDataEnvelope, credential="app"))
async def enable_group(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    return await _switch(request, app, group_id, False)


async def _shield(request: Request, app: Any, group_id: str, on: bool) -> JSONResponse:
    username = user_actor(await principal_of(request, app))
    await services_of(request).moderation.shield(app, group_id, username, on)
    path = f"/chatgroups/{group_id}/shield"
    return ok(request, app, path=path, data={"result": True, "shield": on, "user": username})


@router.post(
    "/chatgroups/{group_id}/shield",
    **operation(ok=GroupDataEnvelope, credential="user", errors=[403]),
)
async def shield_messages(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    """Stop being told of this group's messages (the user's own token)."""
    return await _shield(request, app, group_id, True)


@router.delete(
    "/chatgroups/{group_id}/shield",
    **operation(ok=GroupDataEnvelope, credential="user", errors=[403]),
)
async def unshield_messages(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    return await _shield(request, app, group_id, False)
