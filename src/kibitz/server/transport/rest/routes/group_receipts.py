"""``GET /{org}/{app}/chatgroups/{g}/acks/{msgId}``: who read a group message.

The Web SDK's ``getGroupMsgReadUser`` asks with ``limit`` (500) and ``key`` (the page's
start, ``undefined`` on the first) and resolves with the raw body::

    {"data": {"ackmid": "…", "is_last": true, "next_key": null, "timestamp": …,
              "total": 2, "userlist": ["bob", "carol"]}, …}

An app token, or a member's own token.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..deps import AppDep, services_of
from ..envelope import ok
from ..group_shapes import GroupDataEnvelope
from ..openapi import operation, operation_id
from .group_args import PageNum, actor_of, illegal, page_arg, principal_of

__all__ = ["router"]

router = APIRouter(prefix="/{org_name}/{app_name}", generate_unique_id_function=operation_id)


@router.get(
    "/chatgroups/{group_id}/acks/{msg_id}",
    **operation(ok=GroupDataEnvelope, credential="member", errors=[403]),
)
async def read_acks(
    request: Request,
    app: AppDep,
    group_id: str,
    msg_id: str,
    limit: PageNum = None,
    key: PageNum = None,
) -> JSONResponse:
    principal = await principal_of(request, app)
    if not msg_id.isdigit() or len(msg_id) > 19:
        raise illegal(f"message id illegal: {msg_id!r}")
    size = page_arg(limit, 500, 1, 500, "limit")
    after = None if key in (None, "", "undefined", "null") else key
    services = services_of(request)
    page = await services.receipts.readers(
        app, group_id, actor_of(principal), int(msg_id), size, after
    )
    data = {
        "ackmid": msg_id,
        "is_last": page.next_key is None,
        "next_key": page.next_key,
        "timestamp": services.clock.now_ms(),
        "total": page.total,
        "userlist": page.readers,
    }
    return ok(request, app, path=f"/chatgroups/{group_id}/acks/{msg_id}", data=data)
