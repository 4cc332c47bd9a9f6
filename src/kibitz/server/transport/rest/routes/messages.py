"""``POST /{org}/{app}/messages/users``: send 1:1 messages from the server.

Body (agora-rest.md §3.2)::

    {"from": "admin", "to": ["bob", …≤ 600],
     "type": "txt"|"custom"|"cmd"|"loc"|"img"|"audio"|"video"|"file",
     "body": {"msg"} | {"customEvent", "customExts"} | {"action"} | {"lat", "lng", "addr"}
             | {"url", "secret", "filename", "file_length", "size": {"width", "height"},
                "length", "thumb", "thumb_secret"},
     "ext": {…}, "routetype": "ROUTE_ONLINE", "sync_device": false}

The messages take the same durable path as the SDK's: written in one group commit, then
notified. The answer maps every recipient to its message id (``data``). Like Agora's, the
call does not check that recipients exist: an unknown name still gets an id, and nothing is
delivered to it. ``from`` is only a name; no account is created for it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from kibitz.protocol import ChatError
from kibitz.protocol._msync import Content, ContentKind, content_to_pb, ext_to_keyvalues, pb
from kibitz.server.domain.accounts import USERNAME_RE
from kibitz.server.domain.messaging import MAX_CONTENT_BYTES, Sender, Stored

from ..deps import AdminDep, AppDep, read_json, services_of
from ..envelope import ok
from ..errors import RestError
from ..openapi import operation, operation_id
from ..shapes import MessageSend, MessagesEnvelope

__all__ = ["router"]

router = APIRouter(
    prefix="/{org_name}/{app_name}/messages", generate_unique_id_function=operation_id
)

MAX_RECIPIENTS: Final = 600
_CUSTOM_EVENT: Final = re.compile(r"^[a-zA-Z0-9\-_/.]{1,32}$")


def _illegal(description: str) -> RestError:
    return RestError(400, "illegal_argument", description, "IllegalArgumentException")


def _sender_name(body: dict[str, Any]) -> str:
    name = body.get("from", "admin")
    if name == "" or name is None:
        raise _illegal("'From' can't be empty.")
    if not isinstance(name, str) or len(name) > 64:
        raise _illegal("'from' must be a name of at most 64 characters.")
    return name


def _recipients(body: dict[str, Any]) -> list[str]:
    to = body.get("to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not to:
        raise _illegal("'to' must be a non-empty list of usernames.")
    if len(to) > MAX_RECIPIENTS:
        raise _illegal("params to's size can't exceed limit")
    names: list[str] = []
    for name in to:
        if not isinstance(name, str) or not USERNAME_RE.match(name):
            raise _illegal(f"{name!r} is not a legal username.")
        if name not in names:
            names.append(name)
    return names


def _number(value: Any, field: str) -> float:
    """A JSON number or a decimal string (Easemob's examples send strings); not a boolean."""
    if isinstance(value, bool):
        raise _illegal(f"body.{field} must be a number.")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise _illegal(f"body.{field} must be a number.") from exc


def _string(payload: dict[str, Any], field: str, *, required: bool = True) -> str:
    value = payload.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise _illegal(f"body.{field} must be a non-empty string.")
    return value


def _content(kind: Any, payload: Any) -> Content:
    """Agora's REST body for one type → the content the SDKs read."""
    if not isinstance(payload, dict):
        raise _illegal("'body' must be an object.")
    if kind == "txt":
        return Content(kind=ContentKind.TEXT, text=_string(payload, "msg"))
    if kind == "cmd":
        return Content(kind=ContentKind.CMD, action=_string(payload, "action"))
    if kind == "loc":
        return Content(
            kind=ContentKind.LOCATION,
            latitude=_number(payload.get("lat"), "lat"),
            longitude=_number(payload.get("lng"), "lng"),
            address=_string(payload, "addr", required=False),
        )
    if kind == "custom":
        event = _string(payload, "customEvent", required=False)
        if event and not _CUSTOM_EVENT.match(event):
            raise _illegal("body.customEvent must match [a-zA-Z0-9-_/.]{1,32}.")
        exts = payload.get("customExts") or {}
        if not isinstance(exts, dict) or not all(
            isinstance(v, str | int | float | bool) for v in exts.values()
        ):
            raise _illegal("body.customExts must map names to strings.")
        values = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in exts.items()}
        return Content(kind=ContentKind.CUSTOM, custom_event=event, custom_exts=values)
    if isinstance(kind, str) and kind in _ATTACHMENTS:
        return _attachment(_ATTACHMENTS[kind], payload)
    raise _illegal(
        f"message type {kind!r} is not supported; use txt, img, audio, video, file, loc, cmd "
        "or custom."
    )


_ATTACHMENTS: Final = {
    "img": ContentKind.IMAGE,
    "audio": ContentKind.VOICE,
    "video": ContentKind.VIDEO,
    "file": ContentKind.FILE,
}


def _json_number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _illegal(f"body.{field} must be a number.")
    return float(value)


def _whole(payload: dict[str, Any], field: str) -> int:
    value = payload.get(field)
    if value is None:
        return 0
    number = _json_number(value, field)
    if not number.is_integer() or not 0 <= number < 2**31:
        raise _illegal(f"body.{field} must be a whole number ≥ 0.")
    return int(number)


def _attachment(kind: ContentKind, payload: dict[str, Any]) -> Content:
    """Agora's img/audio/video/file bodies (agora-rest.md §3.2): ``url`` (absolute: the
    upload's /chatfiles/{uuid}), ``secret``, ``filename``, ``file_length``; an image's
    ``size``, a voice or video's ``length``, a video's ``thumb`` and ``thumb_secret``."""
    size = payload.get("size")
    size = {} if size is None else size
    if not isinstance(size, dict):
        raise _illegal("body.size must be an object {width, height}.")
    return Content(
        kind=kind,
        url=_string(payload, "url"),
        secret=_string(payload, "secret", required=False),
        filename=_string(payload, "filename", required=False),
        file_length=_whole(payload, "file_length"),
        width=_json_number(size.get("width", 0), "size.width"),
        height=_json_number(size.get("height", 0), "size.height"),
        duration=_whole(payload, "length"),
        thumbnail_url=_string(payload, "thumb", required=False),
        thumbnail_secret=_string(payload, "thumb_secret", required=False),
    )


def message_body(body: dict[str, Any]) -> pb.MessageBody:
    """Validate a REST send body into the MessageBody every recipient receives."""
    if "body" not in body:
        raise _illegal("'body' is required.")
    ext = body.get("ext", {})
    if not isinstance(ext, dict):
        raise _illegal("'ext' must be an object.")
    size = len(json.dumps(body["body"])) + len(json.dumps(ext))
    if size > MAX_CONTENT_BYTES:
        raise RestError(
            413,
            "request_entity_too_large",
            "message is too large",
            "RequestEntityTooLargeException",
        )
    content = _content(body.get("type"), body["body"])
    content.validate()
    message = pb.MessageBody(type=pb.MessageBody.CHAT)
    message.contents.append(content_to_pb(content))
    message.ext.extend(ext_to_keyvalues(ext))
    return message


@router.post("/users", **operation(ok=MessagesEnvelope, body=MessageSend, errors=[403, 429]))
async def send_to_users(request: Request, app: AppDep, _: AdminDep) -> JSONResponse:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise _illegal("The request body must be a JSON object.")
    sender_name = _sender_name(body)
    recipients = _recipients(body)
    message = message_body(body)
    services = services_of(request)
    sender_id = None
    if body.get("sync_device") is True:  # the sender's own devices get a copy
        sender_id = await services.messaging.user_id(app, sender_name)
    results = await services.messaging.send_many(
        Sender(app, sender_name, sender_id),
        recipients,
        message,
        online_only=body.get("routetype") == "ROUTE_ONLINE",
        unknown_ok=True,
    )
    data: dict[str, str] = {}
    for name, result in zip(recipients, results, strict=True):
        if isinstance(result, ChatError):  # cannot happen with unknown_ok; keep it loud
            raise result
        assert isinstance(result, Stored)
        data[name] = str(result.id)
    return ok(request, app, path="/messages/users", data=data)
