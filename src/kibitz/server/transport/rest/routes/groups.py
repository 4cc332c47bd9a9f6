"""Groups on Agora's paths and JSON (agora-rest.md §3.5; the Web SDK's calls,
agora-protocol-2.md §3). Every route takes an app credential or the token of a user of
the app, who then acts as itself: the domain decides what that user may do. Membership is
in ``group_members.py``, moderation in ``group_moderation.py``.

    POST   /chatgroups                          create ({"groupid"})
    GET    /chatgroups?limit&cursor             all groups (app only)
    GET    /chatgroups/{ids}                    details of ≤ 100
    PUT    /chatgroups/{g}                      modify, or {"newowner"} to transfer
    DELETE /chatgroups/{g}                      destroy
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.domain.groups import Group, GroupSpec, Member, Role

from ..deps import AppDep, services_of
from ..envelope import ok
from ..errors import RestError
from ..group_shapes import (
    GroupCreateBody,
    GroupDataEnvelope,
    GroupModifyBody,
)
from ..openapi import operation
from .group_args import (
    PageNum,
    actor_of,
    flag,
    illegal,
    integer,
    json_object,
    page_arg,
    principal_of,
    resource_of,
    text,
    usernames_of,
)

__all__ = ["router"]

router = APIRouter(prefix="/{org_name}/{app_name}")

MAX_DETAILS: Final = 100


def group_json(group: Group, members: list[Member]) -> dict[str, Any]:
    """The details item both the REST API and the SDK's getGroupInfo read."""
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "avatar": group.avatar,
        "owner": group.owner,
        "created": group.created_ms,
        "last_modified": group.modified_ms,
        "maxusers": group.max_users,
        "affiliations_count": len(members),
        "affiliations": [
            {
                ("owner" if m.role is Role.OWNER else "member"): m.username,
                "joined_time": m.joined_ms,
            }
            for m in members
        ],
        "public": group.public,
        "membersonly": group.approval,
        "allowinvites": group.allow_invites,
        "invite_need_confirm": group.invite_need_confirm,
        "mute": group.mute_all,
        "disabled": group.disabled,
        "custom": group.custom,
        "shieldgroup": False,
    }


def _group_ids(value: str) -> list[str]:
    ids = [i for i in value.split(",") if i]
    if not ids:
        raise ChatError(ErrorCode.GROUP_INVALID_ID, "groupId can not be null!")
    if len(ids) > MAX_DETAILS:
        raise illegal(f"at most {MAX_DETAILS} groups at once")
    return ids


# -- lifecycle -----------------------------------------------------------------------------


@router.post(
    "/chatgroups",
    **operation(ok=GroupDataEnvelope, credential="member", body=GroupCreateBody, errors=[403]),
)
async def create_group(request: Request, app: AppDep) -> JSONResponse:
    principal = await principal_of(request, app)
    body = await json_object(request)
    actor = actor_of(principal)
    owner = actor if actor is not None else text(body, "owner")
    if not owner:
        raise illegal("'owner' is required.")
    name = text(body, "groupname", "name")
    if not name:
        raise illegal("'groupname' is required.")
    public = flag(body, "public")
    spec = GroupSpec(
        name=name,
        owner=owner,
        description=text(body, "desc", "description") or "",
        public=public,
        approval=flag(body, "membersonly", "members_only", "approval"),
        # Agora forces allowinvites off for a public group at creation.
        allow_invites=False if public else flag(body, "allowinvites"),
        invite_need_confirm=flag(body, "invite_need_confirm", "inviteNeedConfirm"),
        max_users=integer(body, "maxusers") or 200,
        custom=text(body, "custom", "ext") or "",
        avatar=text(body, "avatar") or "",
        members=tuple(usernames_of(body.get("members", []), "members")),
    )
    group = await services_of(request).groups.create(app, spec, resource_of(request))
    return ok(request, app, path="/chatgroups", entities=[], data={"groupid": group.id})


@router.get("/chatgroups", **operation(ok=GroupDataEnvelope, credential="app"))
async def list_groups(
    request: Request, app: AppDep, limit: PageNum = None, cursor: PageNum = None
) -> JSONResponse:
    principal = await principal_of(request, app)
    if not principal.is_app:
        raise RestError(
            401, "unauthorized", "This operation requires an app token.", "UnauthorizedException"
        )
    size = page_arg(limit, 10, 1, 1000, "limit")
    after = None if cursor in (None, "", "undefined", "null") else cursor
    if after is not None and not (after.isascii() and after.isdigit()):
        raise illegal("The cursor is not valid.")
    groups = await services_of(request).groups.page(app, size, after)
    data = [
        {
            "owner": f"{app.app_key}_{g.owner}",
            "groupid": g.id,
            "groupname": g.name,
            "type": "group",
            "created": g.created_ms,
            "lastModified": g.modified_ms,
        }
        for g in groups
    ]
    return ok(
        request,
        app,
        path="/chatgroups",
        data=data,
        count=len(data),
        cursor=groups[-1].id if len(groups) == size else None,
    )


@router.get("/chatgroups/{group_ids}", **operation(ok=GroupDataEnvelope, credential="member"))
async def group_details(request: Request, app: AppDep, group_ids: str) -> JSONResponse:
    await principal_of(request, app)
    service = services_of(request).groups
    data = []
    for group_id in _group_ids(group_ids):
        group = await service.get(app, group_id)
        data.append(group_json(group, await service.members(app, group_id)))
    return ok(request, app, path="/chatgroups", entities=[], data=data, count=len(data))


@router.put(
    "/chatgroups/{group_id}",
    **operation(ok=GroupDataEnvelope, credential="member", body=GroupModifyBody, errors=[403]),
)
async def modify_group(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    principal = await principal_of(request, app)
    body = await json_object(request)
    service = services_of(request).groups
    actor = actor_of(principal)
    if "newowner" in body:
        new_owner = text(body, "newowner")
        if not new_owner:
            raise illegal("'newowner' must be a username.")
        moderation = services_of(request).moderation
        await moderation.transfer(app, group_id, actor, new_owner, resource_of(request))
        return ok(request, app, path="/chatgroups", data={"newowner": True})
    changes: dict[str, object] = {}
    answer: dict[str, bool] = {}
    for keys, field in (
        (("groupname", "name"), "name"),
        (("description", "desc"), "description"),
        (("custom",), "custom"),
        (("avatar",), "avatar"),
    ):
        value = text(body, *keys)
        if value is not None:
            changes[field] = value
            answer[keys[0]] = True
    for keys, field in (
        (("public",), "public"),
        (("membersonly", "members_only"), "approval"),
        (("allowinvites",), "allow_invites"),
        (("invite_need_confirm",), "invite_need_confirm"),
    ):
        if any(k in body for k in keys):
            changes[field] = flag(body, *keys)
            answer[keys[0]] = True
    max_users = integer(body, "maxusers")
    if max_users is not None:
        changes["max_users"] = max_users
        answer["maxusers"] = True
    await service.modify(app, group_id, actor, changes, resource_of(request))
    return ok(request, app, path="/chatgroups", data=answer)


@router.delete(
    "/chatgroups/{group_id}", **operation(ok=GroupDataEnvelope, credential="member", errors=[403])
)
async def destroy_group(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    principal = await principal_of(request, app)
    await services_of(request).groups.destroy(
        app, group_id, actor_of(principal), resource_of(request)
    )
    data = {"success": True, "groupid": group_id, "id": group_id}
    return ok(request, app, path="/chatgroups", data=data)
