"""The frames the gateway sends, each encoded in one place.

Stored messages are already-encoded ``Meta`` bytes; a pull reply splices them into the
``CommSyncDL`` as raw length-delimited fields instead of decoding and re-encoding them
(protobuf parsers merge fields in any order, so header-then-metas is a valid message).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
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


# The bytes ``encode_frame`` writes around a SYNC payload, and the head a pull reply starts
# with: built by hand, field by field in protobuf's order, because a fan-out burst encodes
# one per member and building the messages cost more than the rest of the reply.
_SYNC_ENVELOPE: Final = b"\x40\x00\x4a"  # MSync.command = SYNC; MSync.payload (9, bytes)
_STATUS_OK: Final = b"\x0a\x02\x08\x00"  # CommSyncDL.status = Status(error_code=OK)
_NEXT_KEY_TAG: Final = b"\x28"  # CommSyncDL.next_key (5, varint)
_IS_LAST: Final = b"\x38\x01"  # CommSyncDL.is_last = true (7)
_NOT_LAST: Final = b"\x38\x00"
_TIMESTAMP_TAG: Final = b"\x40"  # CommSyncDL.timestamp (8, varint)


@lru_cache(maxsize=4096)
def _queue_field(app_key: str, queue: str) -> bytes:
    """CommSyncDL.queue (6, the queue's JID), encoded once per queue."""
    encoded = queue_jid(app_key, queue).SerializeToString()
    return b"\x32" + varint(len(encoded)) + encoded


class _Last:
    """The last pull reply built, empty and not: in a group's fan-out burst the members'
    replies within one millisecond are the same bytes (same queue, rows and timestamp)."""

    __slots__ = ("batch", "empty")

    def __init__(self) -> None:
        self.empty: tuple[str, str, int, bytes] = ("", "", -1, b"")
        self.batch: tuple[str, str, int, Sequence[tuple[int, bytes]], bytes] = (
            "",
            "",
            -1,
            (),
            b"",
        )


_last = _Last()


def sync_batch_frame(
    app_key: str, queue: str, metas: Sequence[tuple[int, bytes]], now_ms: int
) -> bytes:
    """One pull reply: the batch with ``next_key`` = its last id, or empty and ``is_last``.
    The same bytes ``encode_frame`` would write for that ``CommSyncDL``."""
    if not metas:
        k, q, t, frame = _last.empty
        if t == now_ms and q == queue and k == app_key:
            return frame
        body = b"".join((_STATUS_OK, _queue_field(app_key, queue), _IS_LAST, _stamp(now_ms)))
        frame = b"".join((_SYNC_ENVELOPE, varint(len(body)), body))
        _last.empty = (app_key, queue, now_ms, frame)
        return frame
    k, q, t, rows, frame = _last.batch
    if t == now_ms and q == queue and k == app_key and rows == metas:
        return frame
    parts = [
        _STATUS_OK,
        _NEXT_KEY_TAG,
        varint(metas[-1][0]),
        _queue_field(app_key, queue),
        _NOT_LAST,
        _stamp(now_ms),
    ]
    for _, meta in metas:
        parts += (_METAS_TAG, varint(len(meta)), meta)
    body = b"".join(parts)
    frame = b"".join((_SYNC_ENVELOPE, varint(len(body)), body))
    _last.batch = (app_key, queue, now_ms, metas, frame)
    return frame


def _stamp(now_ms: int) -> bytes:
    return _TIMESTAMP_TAG + varint(now_ms)


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
