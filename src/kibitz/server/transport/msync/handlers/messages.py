"""CHAT metas: a message sent up, handed to the messaging service; the client gets an ack
with the server id, or a failure whose status/reason the SDK maps (statuses.py).

The handler only reads the meta: whom it is for (a ``Target``: a user, or a group or room
in the conference domain) and what it is. Whether that group or room exists is the
domain's to say (its planners refuse a send to one that does not)."""

from __future__ import annotations

import logging
import time

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import GROUP_DOMAIN, FrameError, decode_payload, pb
from kibitz.server.domain.delivery import Target, TargetKind
from kibitz.server.domain.messaging import Sender, unknown_user_reason

from ..connection import Connection
from ..frames import send_ack_frame, send_fail_frame
from ..statuses import send_status
from .context import Context

__all__ = ["SERVER_BUSY", "chat"]

SERVER_BUSY = "server busy: try again later"  # our SDK's SERVER_BUSY; the Web SDK's 503

log = logging.getLogger(__name__)


async def chat(ctx: Context, conn: Connection, meta: pb.Meta) -> None:
    now = ctx.services.clock.now_ms()
    try:
        body = decode_payload(pb.MessageBody, meta.payload)
    except FrameError:
        conn.send(send_fail_frame(meta.id, pb.Status.FAIL, "malformed message", now))
        return
    target = _target(body, meta.to_jid.name or body.to_jid.name, meta.to_jid.domain)
    refusal = _unsupported(body, target.name) if target.kind is TargetKind.USER else None
    if refusal is not None:
        conn.send(send_fail_frame(meta.id, *send_status(refusal), now))
        return
    if ctx.services.overload.busy():  # shed new work; what is under way goes on
        conn.send(send_fail_frame(meta.id, pb.Status.FAIL, SERVER_BUSY, now))
        ctx.services.metrics.sends.labels(target.kind.name.lower(), "shed").inc()
        return
    online_only = meta.routetype == pb.Meta.ROUTE_ONLINE
    # Beside the receive loop: the ack waits for the commit, the next frame need not.
    work = _send(ctx, conn, meta.id, target, body, online_only)
    ctx.services.overload.track(work)
    await conn.spawn(work)


async def _send(
    ctx: Context,
    conn: Connection,
    meta_id: int,
    to: Target,
    body: pb.MessageBody,
    online_only: bool,
) -> None:
    s = ctx.services
    login = conn.login
    assert login is not None
    sender = Sender(login.app, login.user.username, login.user.id, login.resource)
    metrics = s.metrics
    started = time.perf_counter()
    kind = to.kind.name.lower()
    try:
        if to.kind is TargetKind.GROUP and body.type == pb.MessageBody.READ_ACK:
            stored = await s.receipts.read(sender, to.name, body)  # counted, not stored
        else:
            stored = await s.messaging.send(sender, to, body, online_only=online_only)
    except ChatError as exc:
        code, reason = send_status(exc)
        conn.send(send_fail_frame(meta_id, code, reason, s.clock.now_ms()))
        metrics.sends.labels(kind, "refused").inc()
        if exc.code is ErrorCode.MESSAGE_SEND_TRAFFIC_LIMIT:
            metrics.rate_limited.labels("message").inc()
    except Exception:
        log.exception("send failed")
        conn.send(send_fail_frame(meta_id, pb.Status.FAIL, "internal error", s.clock.now_ms()))
        metrics.sends.labels(kind, "failed").inc()
    else:
        conn.send(send_ack_frame(meta_id, stored.id, stored.timestamp_ms))
        metrics.sends.labels(kind, "ok").inc()
        metrics.send_seconds.observe(time.perf_counter() - started)


def _target(body: pb.MessageBody, to: str, domain: str) -> Target:
    """A CHATROOM body is for a room; a GROUPCHAT body, or anything else sent to the
    conference domain, for a group; the rest for a user."""
    kind = body.type
    if kind == pb.MessageBody.CHATROOM:
        return Target(TargetKind.ROOM, to)
    if kind == pb.MessageBody.GROUPCHAT or domain == GROUP_DOMAIN:
        return Target(TargetKind.GROUP, to)
    return Target(TargetKind.USER, to)


def _unsupported(body: pb.MessageBody, to: str) -> ChatError | None:
    """1:1 message kinds the gateway does not carry yet, refused with a reason the SDK
    maps."""
    kind = body.type
    if kind == pb.MessageBody.RECALL:
        return ChatError(ErrorCode.SERVICE_NOT_ENABLED, "message recall disabled")  # 505
    if kind == pb.MessageBody.EDIT:
        return ChatError(ErrorCode.SERVICE_NOT_ENABLED, "message edit not supported")
    if not to:
        return ChatError(ErrorCode.USER_NOT_FOUND, unknown_user_reason(to))
    return None
