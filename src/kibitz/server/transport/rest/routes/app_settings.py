"""``/{org}/{app}/settings``: an app's limits and service switches, and ``/disable`` /
``/enable``: banning it (kibitz's own routes).

Agora sets these in its console; kibitz has no console of its own yet, so an operator
reads and changes them here (or with ``kibitz app settings``) with an app token::

    GET /{org}/{app}/settings          → {"data": {"max_group_users": 5000, ...}, ...}
    PUT /{org}/{app}/settings  {"contacts_only": true, "recall_window_s": 600}

A PUT applies every change or none (an unknown name or a bad value is a 400 naming the
setting) and takes effect on every node at once.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from ..deps import AdminDep, AppDep, read_json, services_of
from ..envelope import ok
from ..errors import RestError
from ..openapi import operation, operation_id
from ..shapes import Envelope

__all__ = ["router"]

router = APIRouter(prefix="/{org_name}/{app_name}", generate_unique_id_function=operation_id)


class SettingsBody(BaseModel):
    """Setting name → new value (an integer, or true/false for a switch)."""

    model_config = ConfigDict(extra="allow")


class SettingsEnvelope(Envelope):
    data: dict[str, int | bool]


class AppStateEnvelope(Envelope):
    data: dict[str, bool]


@router.get("/settings", **operation(ok=SettingsEnvelope))
async def get_settings(request: Request, app: AppDep, _: AdminDep) -> JSONResponse:
    current = await services_of(request).app_settings.get(app.id)
    return ok(request, app, path="/settings", data=current.as_dict())


@router.put("/settings", **operation(ok=SettingsEnvelope, body=SettingsBody))
async def put_settings(request: Request, app: AppDep, _: AdminDep) -> JSONResponse:
    body: Any = await read_json(request)
    if not isinstance(body, dict):
        raise RestError(
            400,
            "illegal_argument",
            "The body must be an object of setting names and values.",
            "IllegalArgumentException",
        )
    current = await services_of(request).app_settings.update(app.id, body)
    return ok(request, app, path="/settings", data=current.as_dict())


@router.post("/disable", **operation(ok=AppStateEnvelope))
async def disable_app(request: Request, app: AppDep, _: AdminDep) -> JSONResponse:
    """Ban the app: every session closes, logins and REST calls are refused (305) until
    ``/enable``; nothing stored is lost."""
    return await _switch(request, app, True)


@router.post("/enable", **operation(ok=AppStateEnvelope))
async def enable_app(request: Request, app: AppDep, _: AdminDep) -> JSONResponse:
    return await _switch(request, app, False)


async def _switch(request: Request, app: Any, disabled: bool) -> JSONResponse:
    changed = await services_of(request).apps.set_disabled(app.org_name, app.app_name, disabled)
    path = "/disable" if disabled else "/enable"
    return ok(request, app, path=path, data={"disabled": changed.disabled})
