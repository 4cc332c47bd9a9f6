"""``GET /{org}/{app}/users/{username}/resources``: the devices a user is logged in on.

Easemob's multi-device listing, from the cluster's device directory (every node)::

    {"data": [{"res": "webim_web_1", "device_uuid": "…", "device_name": "webim"}], …}

Allowed with an app token, or with a user token of that same user (who may then kick one
of them with ``DELETE /users/{u}/disconnect/{resource}``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..deps import AppDep, SelfOrAdminDep, services_of
from ..envelope import ok
from ..openapi import operation, operation_id
from ..shapes import DevicesEnvelope

__all__ = ["router"]

router = APIRouter(prefix="/{org_name}/{app_name}/users", generate_unique_id_function=operation_id)


@router.get("/{username}/resources", **operation(ok=DevicesEnvelope, credential="self"))
async def resources(
    request: Request, app: AppDep, _: SelfOrAdminDep, username: str
) -> JSONResponse:
    services = services_of(request)
    await services.accounts.get(app, username)  # 404 for an unknown user
    live = await services.live_sessions.devices(app.id, username)
    data = [
        {"res": d.resource, "device_uuid": d.device_uuid, "device_name": d.device_name}
        for d in live
    ]
    return ok(request, app, path="/users/resources", entities=[], data=data)
