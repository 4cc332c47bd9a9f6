"""FastAPI routers on Agora's ``/{org}/{app}/...`` paths, one module per domain noun."""

from __future__ import annotations

from fastapi import APIRouter

from . import (
    app_settings,
    contacts,
    devices,
    discovery,
    file_parts,
    files,
    global_mutes,
    group_attributes,
    group_files,
    group_members,
    group_moderation,
    group_receipts,
    groups,
    messages,
    presence,
    sdk,
    token,
    user_attributes,
    users,
)

__all__ = ["ROUTERS"]

# register_rest() mounts these in order; a new feature appends its router here.
ROUTERS: list[APIRouter] = [
    token.router,
    users.router,
    sdk.router,
    messages.router,
    devices.router,
    discovery.router,
    groups.router,
    group_members.router,
    group_moderation.router,
    group_attributes.router,
    group_receipts.router,
    global_mutes.router,
    app_settings.router,
    user_attributes.router,
    presence.router,
    contacts.router,
    files.router,
    file_parts.router,
    group_files.router,
]
