"""Reading the group routes' arguments the way the Web SDK sends them: a credential that is
the app or a user acting as itself, the acting device (``resource=``), JSON bodies with
Agora's keys and loose types, paging numbers that may arrive as ``undefined``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request

from kibitz.server.domain.auth import Principal
from kibitz.server.domain.group_models import MAX_BATCH
from kibitz.server.domain.models import App

from ..deps import authenticate, read_json
from ..errors import RestError

__all__ = [
    "PageNum",
    "actor_of",
    "flag",
    "illegal",
    "integer",
    "json_object",
    "page_arg",
    "principal_of",
    "resource_of",
    "text",
    "user_actor",
    "usernames_of",
]

PageNum = Annotated[str | None, Query()]


def illegal(description: str) -> RestError:
    return RestError(400, "illegal_argument", description, "IllegalArgumentException")


def resource_of(request: Request) -> str:
    """The acting device (the SDK appends ``resource=``): it is not told of its own change."""
    value = request.query_params.get("resource", "")
    return "" if value in ("undefined", "null") or len(value) > 128 else value


def actor_of(principal: Principal) -> str | None:
    """None for the app itself; else the user the token belongs to."""
    return None if principal.user is None else principal.user.username


async def principal_of(request: Request, app: App) -> Principal:
    return await authenticate(request, app)


async def json_object(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise illegal("The request body must be a JSON object.")
    return body


def flag(body: dict[str, Any], *keys: str, default: bool = False) -> bool:
    for key in keys:
        if key in body and body[key] is not None:
            value: object = body[key]
            if isinstance(value, bool):
                return value
            if value in ("true", "false"):
                return value == "true"
            raise illegal(f"'{key}' must be a boolean.")
    return default


def text(body: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        if key in body and body[key] is not None:
            if not isinstance(body[key], str):
                raise illegal(f"'{key}' must be a string.")
            return str(body[key])
    return None


def integer(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise illegal(f"'{key}' must be an integer.")
    try:
        return int(value)
    except ValueError as exc:
        raise illegal(f"'{key}' must be an integer.") from exc


def usernames_of(value: Any, what: str = "usernames") -> list[str]:
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise illegal(f"'{what}' must be a list of usernames.")
    if len(value) > MAX_BATCH:
        raise illegal(f"at most {MAX_BATCH} users at once")
    return list(value)


def page_arg(value: str | None, default: int, low: int, high: int, what: str) -> int:
    """Agora's paging numbers; the SDK sends ``undefined``/``null`` for "not given"."""
    if value in (None, "", "undefined", "null"):
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise illegal(f"'{what}' must be an integer.") from exc
    if not low <= number <= high:
        raise illegal(f"'{what}' must be between {low} and {high}.")
    return number


def user_actor(principal: Principal) -> str:
    """Routes the SDK calls for the logged-in user: an app token names no one."""
    if principal.user is None:
        raise RestError(
            401, "unauthorized", "This operation needs a user token.", "UnauthorizedException"
        )
    return principal.user.username
