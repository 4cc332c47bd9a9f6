"""Group membership on Agora's paths (agora-rest.md §3.5; the Web SDK's calls,
agora-protocol-2.md §3.2–§3.3): members, adding and removing, applications and
invitations, leaving, admins, and a user's groups. An app token, or a user acting as
itself (the domain decides what it may do).

    GET    /chatgroups/{g}/users                members (pagenum/pagesize or cursor/limit)
    POST   /chatgroups/{g}/users[/{u}]          add ≤ 60 ({"usernames"}) or one
    DELETE /chatgroups/{g}/users/{u[,u…]}       remove ≤ 60
    POST   /chatgroups/{g}/apply, /apply_verify join or ask; answer an application
    POST   /chatgroups/{g}/invite, /invite_verify
    DELETE /chatgroups/{g}/quit                 leave
    GET|POST /chatgroups/{g}/admin, DELETE /chatgroups/{g}/admin/{u}
    GET    /chatgroups/{g}/user/{u}/is_joined
    GET    /users/{u}/joined_chatgroups, /chatgroups/user/{u}[/joined_count]
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from kibitz.server.domain.auth import Principal
from kibitz.server.domain.groups import Role

from ..deps import AppDep, body_bytes, services_of
from ..envelope import ok
from ..errors import RestError
from ..group_shapes import (
    ApplyBody,
    ApplyVerifyBody,
    GroupDataEnvelope,
    InviteVerifyBody,
    NewAdminBody,
    UsernamesBody,
)
from ..openapi import operation
from .group_args import (
    PageNum,
    actor_of,
    flag,
    illegal,
    json_object,
    page_arg,
    principal_of,
    resource_of,
    text,
    user_actor,
    usernames_of,
)

__all__ = ["router"]

router = APIRouter(prefix="/{org_name}/{app_name}")


# -- membership ----------------------------------------------------------------------------


@router.get("/chatgroups/{group_id}/users", **operation(ok=GroupDataEnvelope, credential="member"))
async def list_members(
    request: Request,
    app: AppDep,
    group_id: str,
    pagenum: PageNum = None,
    pagesize: PageNum = None,
    limit: PageNum = None,
    cursor: PageNum = None,
) -> JSONResponse:
    await principal_of(request, app)
    members = await services_of(request).groups.members(app, group_id)
    if limit not in (None, "", "undefined", "null") or cursor not in (None, "undefined", "null"):
        size = page_arg(limit, 50, 1, 1000, "limit")
        start = page_arg(cursor, 0, 0, 2**31, "cursor")
        page = members[start : start + size]
        next_cursor = str(start + size) if start + size < len(members) else None
    else:
        size = page_arg(pagesize, 10, 1, 100, "pagesize")
        number = page_arg(pagenum, 1, 1, 2**31, "pagenum")
        page = members[(number - 1) * size : number * size]
        next_cursor = None
    data = [{m.role.value: m.username, "joined_time": m.joined_ms} for m in page]
    path = f"/chatgroups/{group_id}/users"
    return ok(request, app, path=path, data=data, count=len(data), cursor=next_cursor)


@router.post(
    "/chatgroups/{group_id}/users/{username}",
    **operation(ok=GroupDataEnvelope, credential="member", errors=[403]),
)
async def add_member(request: Request, app: AppDep, group_id: str, username: str) -> JSONResponse:
    principal = await principal_of(request, app)
    await services_of(request).groups.add_members(
        app, group_id, actor_of(principal), [username], resource_of(request)
    )
    data = {"result": True, "groupid": group_id, "action": "add_member", "user": username}
    return ok(request, app, path=f"/chatgroups/{group_id}/users", data=data)


@router.post(
    "/chatgroups/{group_id}/users",
    **operation(ok=GroupDataEnvelope, credential="member", body=UsernamesBody, errors=[403]),
)
async def add_members(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    principal = await principal_of(request, app)
    names = usernames_of((await json_object(request)).get("usernames"))
    added = await services_of(request).groups.add_members(
        app, group_id, actor_of(principal), names, resource_of(request)
    )
    data = {
        "newmembers": [m.username for m in added],
        "groupid": group_id,
        "action": "add_member",
    }
    return ok(request, app, path=f"/chatgroups/{group_id}/users", data=data)


@router.delete(
    "/chatgroups/{group_id}/users/{usernames}",
    **operation(ok=GroupDataEnvelope, credential="member", errors=[403]),
)
async def remove_members(
    request: Request, app: AppDep, group_id: str, usernames: str
) -> JSONResponse:
    principal = await principal_of(request, app)
    names = usernames_of([n for n in usernames.split(",") if n])
    removed = await services_of(request).groups.remove_members(
        app, group_id, actor_of(principal), names, resource_of(request)
    )
    items = [
        {"result": True, "groupid": group_id, "action": "remove_member", "user": n} for n in removed
    ]
    return ok(
        request,
        app,
        path=f"/chatgroups/{group_id}/users",
        data=items[0] if len(items) == 1 else items,
    )


@router.post(
    "/chatgroups/{group_id}/apply",
    **operation(ok=GroupDataEnvelope, credential="user", body=ApplyBody, errors=[403]),
)
async def join_group(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    """Join an open public group at once; ask to join an approval group."""
    principal = await principal_of(request, app)
    message = ""
    if (await body_bytes(request)).strip():
        message = text(await json_object(request), "message") or ""
    username = user_actor(principal)
    requests = services_of(request).requests
    joined = await requests.apply(app, group_id, username, message, resource_of(request))
    data = {"result": True, "action": "apply", "id": group_id, "user": username}
    if not joined:
        data["reason"] = message
    return ok(request, app, path=f"/chatgroups/{group_id}/apply", data=data)


@router.post(
    "/chatgroups/{group_id}/apply_verify",
    **operation(ok=GroupDataEnvelope, credential="member", body=ApplyVerifyBody, errors=[403]),
)
async def answer_application(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    principal = await principal_of(request, app)
    body = await json_object(request)
    applicant = text(body, "applicant")
    if not applicant:
        raise illegal("'applicant' is required.")
    accept = flag(body, "verifyResult")
    await services_of(request).requests.verify_apply(
        app,
        group_id,
        actor_of(principal),
        applicant,
        accept,
        text(body, "reason") or "",
        resource_of(request),
    )
    data = {"result": True, "action": "apply_verify", "id": group_id, "user": applicant}
    return ok(request, app, path=f"/chatgroups/{group_id}/apply_verify", data=data)


@router.post(
    "/chatgroups/{group_id}/invite",
    **operation(ok=GroupDataEnvelope, credential="member", body=UsernamesBody, errors=[403]),
)
async def invite(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    principal = await principal_of(request, app)  # an app token invites as the app
    names = usernames_of((await json_object(request)).get("usernames"))
    requests = services_of(request).requests
    await requests.invite(app, group_id, actor_of(principal), names, resource_of(request))
    data = [{"action": "invite", "id": group_id, "result": True, "user": n} for n in names]
    return ok(request, app, path=f"/chatgroups/{group_id}/invite", data=data)


@router.post(
    "/chatgroups/{group_id}/invite_verify",
    **operation(ok=GroupDataEnvelope, credential="user", body=InviteVerifyBody, errors=[403]),
)
async def answer_invitation(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    """The invitee accepts or declines (its own token: ``invitee`` is itself)."""
    principal = await principal_of(request, app)
    body = await json_object(request)
    username = user_actor(principal)
    invitee = text(body, "invitee") or username
    if invitee != username:
        raise illegal("'invitee' must be the user of the token.")
    accept = flag(body, "verifyResult")
    requests = services_of(request).requests
    await requests.verify_invite(app, group_id, username, accept, resource_of(request))
    data = {"result": True, "action": "invite_verify", "id": group_id, "user": username}
    return ok(request, app, path=f"/chatgroups/{group_id}/invite_verify", data=data)


@router.delete(
    "/chatgroups/{group_id}/quit",
    **operation(ok=GroupDataEnvelope, credential="user", errors=[403]),
)
async def leave_group(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    username = user_actor(await principal_of(request, app))
    await services_of(request).groups.leave(app, group_id, username, resource_of(request))
    return ok(request, app, path=f"/chatgroups/{group_id}/quit", data={"result": True})


@router.get("/chatgroups/{group_id}/admin", **operation(ok=GroupDataEnvelope, credential="member"))
async def list_admins(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    await principal_of(request, app)
    members = await services_of(request).groups.members(app, group_id)
    data = [m.username for m in members if m.role is Role.ADMIN]
    return ok(request, app, path=f"/chatgroups/{group_id}/admin", data=data, count=len(data))


@router.post(
    "/chatgroups/{group_id}/admin",
    **operation(ok=GroupDataEnvelope, credential="member", body=NewAdminBody, errors=[403]),
)
async def add_admin(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    principal = await principal_of(request, app)
    username = text(await json_object(request), "newadmin")
    if not username:
        raise illegal("'newadmin' must be a username.")
    await services_of(request).moderation.set_admin(
        app, group_id, actor_of(principal), username, True, resource_of(request)
    )
    data = {"result": "success", "newadmin": username}
    return ok(request, app, path=f"/chatgroups/{group_id}/admin", data=data)


@router.delete(
    "/chatgroups/{group_id}/admin/{username}",
    **operation(ok=GroupDataEnvelope, credential="member", errors=[403]),
)
async def remove_admin(request: Request, app: AppDep, group_id: str, username: str) -> JSONResponse:
    principal = await principal_of(request, app)
    await services_of(request).moderation.set_admin(
        app, group_id, actor_of(principal), username, False, resource_of(request)
    )
    data = {"result": "success", "oldadmin": username}
    return ok(request, app, path=f"/chatgroups/{group_id}/admin", data=data)


@router.get(
    "/chatgroups/{group_id}/user/{username}/is_joined",
    **operation(ok=GroupDataEnvelope, credential="member"),
)
async def is_joined(request: Request, app: AppDep, group_id: str, username: str) -> JSONResponse:
    await principal_of(request, app)
    member = await services_of(request).groups.member(app, group_id, username)
    path = f"/chatgroups/{group_id}/user/{username}/is_joined"
    return ok(request, app, path=path, data=member is not None)


@router.get(
    "/users/{username}/joined_chatgroups", **operation(ok=GroupDataEnvelope, credential="self")
)
async def joined_groups(
    request: Request,
    app: AppDep,
    username: str,
    pagenum: PageNum = None,
    pagesize: PageNum = None,
) -> JSONResponse:
    principal = await principal_of(request, app)
    _self_or_app(principal, username)
    groups = services_of(request).groups
    joined = await groups.joined(app, username)
    size = page_arg(pagesize, 5 if principal.is_app else 20, 1, 100, "pagesize")
    number = page_arg(pagenum, 1, 1, 2**31, "pagenum")
    page = joined[(number - 1) * size : number * size]
    data = []
    for g in page:
        member = await groups.member(app, g.id, username)
        role = member.role.value if member is not None else "member"
        # 1.4 reads groupid/groupname; 4.21 reads id/name/disabled/permission.
        data.append(
            {
                "groupid": g.id,
                "groupname": g.name,
                "id": g.id,
                "name": g.name,
                "disabled": g.disabled,
                "permission": role,
            }
        )
    path = f"/users/{username}/joined_chatgroups"
    return ok(request, app, path=path, entities=[], data=data, count=len(data))


@router.get("/chatgroups/user/{username}", **operation(ok=GroupDataEnvelope, credential="self"))
async def joined_groups_with_roles(
    request: Request,
    app: AppDep,
    username: str,
    pagenum: PageNum = None,
    pagesize: PageNum = None,
) -> JSONResponse:
    """The SDK's ``getJoinedGroups`` with ``needAffiliations``/``needRole``: entities,
    and a ``uri`` that does not say joined_chatgroups (the SDK tells the variants apart
    by it)."""
    principal = await principal_of(request, app)
    _self_or_app(principal, username)
    groups = services_of(request).groups
    joined = await groups.joined(app, username)
    size = page_arg(pagesize, 20, 1, 100, "pagesize")
    number = max(page_arg(pagenum, 1, 0, 2**31, "pagenum"), 1)  # the SDK starts at 0
    entities = []
    for g in joined[(number - 1) * size : number * size]:
        members = await groups.members(app, g.id)
        role = next((m.role.value for m in members if m.username == username), "member")
        entities.append(
            {
                "groupId": g.id,
                "name": g.name,
                "affiliations_count": len(members),
                "permission": role,
                "disabled": g.disabled,
                "membersonly": g.approval,
                "allowinvites": g.allow_invites,
                "description": g.description,
                "maxusers": g.max_users,
                "public": g.public,
            }
        )
    path = f"/chatgroups/user/{username}"
    return ok(request, app, path=path, entities=entities, count=len(entities))


@router.get(
    "/chatgroups/user/{username}/joined_count",
    **operation(ok=GroupDataEnvelope, credential="self"),
)
async def joined_count(request: Request, app: AppDep, username: str) -> JSONResponse:
    principal = await principal_of(request, app)
    _self_or_app(principal, username)
    count = len(await services_of(request).groups.joined(app, username))
    path = f"/chatgroups/user/{username}/joined_count"
    return ok(request, app, path=path, data=count)


def _self_or_app(principal: Principal, username: str) -> None:
    if principal.user is not None and principal.user.username != username:
        raise RestError(
            401,
            "unauthorized",
            "A user token acts only for its own user.",
            "UnauthorizedException",
        )
