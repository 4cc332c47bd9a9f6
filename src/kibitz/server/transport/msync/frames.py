"""The frames the gateway sends, each encoded in one place.

Stored messages are already-encoded ``Meta`` bytes; a pull reply splices them into the
``CommSyncDL`` as raw length-delimited fields instead of decoding and re-encoding them
(protobuf parsers merge fields in any order, so header-then-metas is a valid message).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from kibitz.protocol import ErrorCode
from kibitz.protocol._msync import GROUP_DOMAIN, USER_DOMAIN, encode_frame, jid, pb, varint

__all__ = [
    "KICK_OPERATIONS",
    "kick_frame",
    "notice_frame",
    "provision_frame",
    "send_ack_frame",
    "send_fail_frame",
    "sync_batch_frame",
    "sync_error_frame",
    "unread_frame",
]

_METAS_TAG: Final = b"\x22"  # CommSyncDL field 4 (metas), wire type 2

KICK_OPERATIONS: Final = {
    ErrorCode.USER_REMOVED: pb.StatisticsBody.USER_REMOVED,
    ErrorCode.USER_LOGIN_ANOTHER_DEVICE: pb.StatisticsBody.USER_LOGIN_ANOTHER_DEVICE,
    ErrorCode.USER_KICKED_BY_CHANGE_PASSWORD: pb.StatisticsBody.USER_KICKED_BY_CHANGE_PASSWORD,
    ErrorCode.USER_KICKED_BY_OTHER_DEVICE: pb.StatisticsBody.USER_KICKED_BY_OTHER_DEVICE,
}


def _status(code: pb.Status.ErrorCode = pb.Status.OK, reason: str = "") -> pb.Status:
    status = pb.Status(error_code=code)
    if reason:
        status.reason = reason
    return status


def queue_jid(app_key: str, queue: str, resource: str = "") -> pb.JID:
    domain = GROUP_DOMAIN if "@" in queue else USER_DOMAIN
    return jid(app_key, queue.partition("@")[0], domain, resource)


def notice_frame(app_key: str, queue: str, resource: str = "") -> bytes:
    return encode_frame(pb.MSync.NOTICE, pb.CommNotice(queue=queue_jid(app_key, queue, resource)))


def sync_batch_frame(
    app_key: str, queue: str, metas: Sequence[tuple[int, bytes]], now_ms: int
) -> bytes:
    """One pull reply: the batch with ``next_key`` = its last id, or empty and ``is_last``."""
    head = pb.CommSyncDL(status=_status(), queue=queue_jid(app_key, queue), timestamp=now_ms)
    if not metas:
        head.is_last = True
        return encode_frame(pb.MSync.SYNC, head)
    head.next_key = metas[-1][0]
    head.is_last = False
    body = [head.SerializeToString()]
    for _, meta in metas:
        body += (_METAS_TAG, varint(len(meta)), meta)
    return encode_frame(pb.MSync.SYNC, b"".join(body))


def sync_error_frame(code: pb.Status.ErrorCode, reason: str) -> bytes:
    """A SYNC reply to an uplink the gateway cannot use (no meta id: the SDK ignores it)."""
    return encode_frame(pb.MSync.SYNC, pb.CommSyncDL(status=_status(code, reason)))


def send_ack_frame(meta_id: int, server_id: int, timestamp_ms: int) -> bytes:
    dl = pb.CommSyncDL(
        status=_status(), meta_id=meta_id, server_id=server_id, timestamp=timestamp_ms
    )
    return encode_frame(pb.MSync.SYNC, dl)


def send_fail_frame(meta_id: int, code: pb.Status.ErrorCode, reason: str, now_ms: int) -> bytes:
    dl = pb.CommSyncDL(status=_status(code, reason), meta_id=meta_id, timestamp=now_ms)
    return encode_frame(pb.MSync.SYNC, dl)


def unread_frame(app_key: str, counts: Sequence[tuple[str, int]], now_ms: int) -> bytes:
    dl = pb.CommUnreadDL(status=_status(), timestamp=now_ms)
    for queue, n in counts:
        dl.unread.append(pb.MetaQueue(queue=queue_jid(app_key, queue), n=min(n, 2**32 - 1)))
    return encode_frame(pb.MSync.UNREAD, dl)


def provision_frame(
    code: pb.Status.ErrorCode,
    reason: str = "",
    *,
    resource: str = "",
    expires_at_ms: int | None = None,
) -> bytes:
    """The login reply; on success it carries the resource and the token's expiry."""
    reply = pb.Provision(status=_status(code, reason))
    if resource:
        reply.resource = resource
    if expires_at_ms is not None:
        reply.auth_token = json.dumps({"expires_in": expires_at_ms})
    return encode_frame(pb.MSync.PROVISION, reply)


def kick_frame(
    app_key: str, username: str, code: ErrorCode, meta_id: int, now_ms: int, reason: str = ""
) -> bytes:
    """A STATISTIC meta the SDK turns into onError/onDisconnected without reconnecting.

    Pushed directly (no notice, no pull): queue and ``Meta.from`` must be set, the id must
    be fresh, and neither ``next_key`` nor ``is_last`` may be set.
    """
    body = pb.StatisticsBody(
        operation=KICK_OPERATIONS.get(code, pb.StatisticsBody.USER_KICKED_BY_OTHER_DEVICE)
    )
    if reason:
        body.reason = reason
    meta = pb.Meta(
        id=meta_id,
        from_jid=jid(app_key, "admin"),
        to_jid=jid(app_key, username),
        timestamp=now_ms,
        ns=pb.Meta.STATISTIC,
        payload=body.SerializeToString(),
    )
    dl = pb.CommSyncDL(status=_status(), queue=jid(app_key, username), metas=[meta])
    return encode_frame(pb.MSync.SYNC, dl)
