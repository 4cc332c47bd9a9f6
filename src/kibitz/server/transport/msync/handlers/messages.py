"""CHAT metas: a message sent up, handed to the messaging service; the client gets an ack
with the server id, or a failure whose status/reason the SDK maps (statuses.py)."""

from __future__ import annotations

import logging

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import GROUP_DOMAIN, FrameError, decode_payload, pb
from kibitz.server.domain.messaging import Sender, unknown_user_reason

from ..connection import Connection
from ..frames import send_ack_frame, send_fail_frame
from ..statuses import send_status
from .context import Context

__all__ = ["chat"]

log = logging.getLogger(__name__)


async def chat(ctx: Context, conn: Connection, meta: pb.Meta) -> None:
    now = ctx.services.clock.now_ms()
    try:
        body = decode_payload(pb.MessageBody, meta.payload)
    except FrameError:
        conn.send(send_fail_frame(meta.id, pb.Status.FAIL, "malformed message", now))
        return
    to = meta.to_jid.name or body.to_jid.name
    refusal = _unsupported(body, to, meta.to_jid.domain)
    if refusal is not None:
        conn.send(send_fail_frame(meta.id, *send_status(refusal), now))
        return
    online_only = meta.routetype == pb.Meta.ROUTE_ONLINE
    # Beside the receive loop: the ack waits for the commit, the next frame need not.
    await conn.spawn(_send(ctx, conn, meta.id, to, body, online_only))


async def _send(
    ctx: Context, conn: Connection, meta_id: int, to: str, body: pb.MessageBody, online_only: bool
) -> None:
    s = ctx.services
    login = conn.login
    assert login is not None
    sender = Sender(login.app, login.user.username, login.user.id, login.resource)
    try:
        stored = await s.messaging.send(sender, to, body, online_only=online_only)
    except ChatError as exc:
        code, reason = send_status(exc)
        conn.send(send_fail_frame(meta_id, code, reason, s.clock.now_ms()))
    except Exception:
        log.exception("send failed")
        conn.send(send_fail_frame(meta_id, pb.Status.FAIL, "internal error", s.clock.now_ms()))
    else:
        conn.send(send_ack_frame(meta_id, stored.id, stored.timestamp_ms))


def _unsupported(body: pb.MessageBody, to: str, domain: str) -> ChatError | None:
    """Message kinds the gateway does not carry yet, refused with a reason the SDK maps."""
    kind = body.type
    to_group = domain == GROUP_DOMAIN and kind != pb.MessageBody.CHATROOM
    if kind == pb.MessageBody.GROUPCHAT or to_group:
        return ChatError(ErrorCode.GROUP_NOT_EXIST, "group not found")
    if kind == pb.MessageBody.CHATROOM:
        return ChatError(ErrorCode.CHATROOM_NOT_EXIST, f"grpID {to} does not exist!")
    if kind == pb.MessageBody.RECALL:
        return ChatError(ErrorCode.SERVICE_NOT_ENABLED, "message recall disabled")  # 505
    if kind == pb.MessageBody.EDIT:
        return ChatError(ErrorCode.SERVICE_NOT_ENABLED, "message edit not supported")
    if not to:
        return ChatError(ErrorCode.USER_NOT_FOUND, unknown_user_reason(to))
    return None
