"""SYNC: an uplink meta (routed by namespace through the meta table) or a pull, whose
``key`` acknowledges everything the device has received from that queue so far.

A queue in the conference domain is a conversation's (``conversation_queue``): the sync
service reads it for members, and answers anyone else with an empty batch."""

from __future__ import annotations

from kibitz.protocol import ChatError
from kibitz.protocol._msync import GROUP_DOMAIN, FrameError, decode_payload, pb
from kibitz.server.domain.accounts import USERNAME_RE
from kibitz.server.domain.conversations import conversation_queue
from kibitz.server.domain.group_events import EVENT_QUEUE

from ..connection import Connection
from ..frames import send_fail_frame, sync_batch_frame, sync_error_frame
from ..notify import NOTIFY_QUEUE
from .context import Context

__all__ = ["sync"]


async def sync(ctx: Context, conn: Connection, frame: pb.MSync) -> None:
    try:
        ul = decode_payload(pb.CommSyncUL, frame.payload)
    except FrameError:
        conn.send(sync_error_frame(pb.Status.PB_PARSER_ERROR, "malformed CommSyncUL"))
        return
    if ul.HasField("meta"):
        meta = ul.meta
        handle = ctx.metas.get(meta.ns)
        if handle is None:  # a namespace the gateway does not carry (yet)
            now = ctx.services.clock.now_ms()
            conn.send(send_fail_frame(meta.id, pb.Status.FAIL, "not supported", now))
            return
        await handle(ctx, conn, meta)
    elif ul.HasField("queue"):
        await _pull(ctx, conn, ul)
    else:
        conn.send(sync_error_frame(pb.Status.MISSING_PARAMETER, "neither meta nor queue"))


async def _pull(ctx: Context, conn: Connection, ul: pb.CommSyncUL) -> None:
    login = conn.login
    assert login is not None
    s = ctx.services
    name = ul.queue.name
    app_key = login.app.app_key
    # Group and room ids are names too (digits): nothing else names a queue.
    queue = conversation_queue(name) if ul.queue.domain == GROUP_DOMAIN else name
    if name == NOTIFY_QUEUE:
        _pull_notify(ctx, conn, ul)
        return
    if not USERNAME_RE.match(name) and name != EVENT_QUEUE:
        conn.send(sync_batch_frame(app_key, queue, [], s.clock.now_ms()))
        return
    owner, resource = login.user.id, login.resource
    conn.begin_pull(queue)
    try:
        key, acked = ul.key, conn.acked.get(queue, 0)
        if key > acked:
            try:
                rows = await s.sync.ack_and_pull(owner, resource, queue, key)
            except ChatError as exc:  # a key no message has
                conn.send(sync_error_frame(pb.Status.WRONG_PARAMETER, exc.description))
                return
            conn.acked[queue] = key
        else:
            rows = await s.sync.pull(owner, resource, queue, acked)
        conn.send(sync_batch_frame(app_key, queue, rows, s.clock.now_ms()))
    finally:
        conn.end_pull(queue)


def _pull_notify(ctx: Context, conn: Connection, ul: pb.CommSyncUL) -> None:
    """The session's NOTIFY metas (presence), held in memory (``notify.py``)."""
    login = conn.login
    assert login is not None
    s = ctx.services
    conn.begin_pull(NOTIFY_QUEUE)
    try:
        rows = s.notify.pull(conn, ul.key, s.settings.sync_batch_size)
        conn.send(sync_batch_frame(login.app.app_key, NOTIFY_QUEUE, rows, s.clock.now_ms()))
    finally:
        conn.end_pull(NOTIFY_QUEUE)
