"""Group read receipts: members say they read a group message; its sender learns how many.

Agora's rules (agora-rest.md §5.6): the app must switch them on (off by default), only in
groups of at most 200 members (the app's ``group_read_receipt_max_users``), only within 3
days of the message (past that: MESSAGE_EXPIRED, 506). A reader's receipt is recorded once;
the message's sender, if it asked for receipts (``msgConfig.allowGroupAck``), gets a
``READ_ACK`` whose ``ext`` carries the read count — the Web SDK reports it as
``onReadMessage({groupReadCount})`` (agora-protocol-2.md §8.2). That receipt lands in the
sender's own queue of group events, not the group's queue: it is for the sender alone.
Who read a message is a REST page (``/chatgroups/{g}/acks/{msgId}``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from kibitz.protocol import ChatError, ErrorCode, IdGenerator
from kibitz.protocol._ids import first_id_at, id_timestamp_ms
from kibitz.protocol._msync import GROUP_DOMAIN, FrameError, decode_payload, jid, pb

from .app_settings import AppSettingsReader
from .delivery import Delivery, Draft, InboxRow, Sender, Stored, meta_encoder
from .events import Notice
from .group_events import EVENT_QUEUE, EventPoster
from .groups import GroupService
from .models import App
from .ports import Clock

__all__ = ["RECEIPT_WINDOW_MS", "GroupReceipts", "ReadPage", "ReceiptStore", "SentMessage"]

RECEIPT_WINDOW_MS: Final = 3 * 86_400_000  # Agora: receipts only within 3 days
COUNT_KEY: Final = "group_read_count"  # the SDK reads ext[0]'s value, not its key
MAX_PAGE: Final = 500


@dataclass(frozen=True, slots=True)
class SentMessage:
    """What a receipt needs of the message it is about."""

    chat_type: str
    sender: str
    recipient: str
    meta: bytes


@dataclass(frozen=True, slots=True)
class ReadPage:
    readers: list[str]
    total: int
    next_key: str | None  # the key of the next page, None on the last


class ReceiptStore(Protocol):
    async def message(self, app_pk: str, message_id: int) -> SentMessage | None: ...

    async def add_read(
        self, group_id: str, message_id: int, username: str, read_ms: int, expired_below: int
    ) -> tuple[bool, int]:
        """Record a reader (idempotent) and forget the group's receipts of messages below
        ``expired_below``; answers (whether it was new, the message's reader count)."""
        ...

    async def readers(
        self, group_id: str, message_id: int, limit: int, after: str | None
    ) -> tuple[list[str], int]:
        """Readers by name past ``after`` (at most ``limit``), and how many there are."""
        ...


class GroupReceipts:
    def __init__(
        self,
        groups: GroupService,
        store: ReceiptStore,
        settings: AppSettingsReader,
        poster: EventPoster,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._groups = groups
        self._store = store
        self._settings = settings
        self._poster = poster
        self._clock = clock
        self._ids = ids

    async def read(self, reader: Sender, group_id: str, body: pb.MessageBody) -> Stored:
        """A member's READ_ACK for a group message; answers what the reader's ack carries."""
        app = reader.app
        settings = await self._settings.get(app.id)
        if not settings.group_read_receipts:
            raise ChatError(ErrorCode.SERVICE_NOT_ENABLED, "group read ack disabled")
        group = await self._groups.get(app, group_id)
        members = await self._groups.members(app, group.id)
        if all(m.username != reader.username for m in members):
            raise ChatError(ErrorCode.GROUP_NOT_JOINED, "not in group or chatroom")
        if len(members) > settings.group_read_receipt_max_users:
            raise ChatError(
                ErrorCode.SERVICE_NOT_ENABLED,
                "group read ack disabled: the group has more than "
                f"{settings.group_read_receipt_max_users} members",
            )
        now = self._clock.now_ms()
        message_id = body.ack_message_id
        sent = await self._find(app, group.id, message_id)
        if id_timestamp_ms(message_id) < now - RECEIPT_WINDOW_MS:
            raise ChatError(ErrorCode.MESSAGE_EXPIRED, "message expired")
        if sent.sender == reader.username:
            return self._plain_ack(now)
        new, count = await self._store.add_read(
            group.id, message_id, reader.username, now, first_id_at(now - RECEIPT_WINDOW_MS)
        )
        if not new or not _asked_for_receipts(sent.meta):
            return self._plain_ack(now)
        to_id = await self._groups.user_id(app, sent.sender)
        if to_id is None:  # the sender's account is gone
            return self._plain_ack(now)
        (stored,) = await self._poster.post(
            [_receipt(app, reader, group.id, to_id, sent, body, count)]
        )
        return stored

    async def readers(
        self,
        app: App,
        group_id: str,
        actor: str | None,
        message_id: int,
        limit: int,
        after: str | None,
    ) -> ReadPage:
        """Who read ``message_id`` (of this group), by name, paged; ``actor`` None is the
        app, else it must be a member."""
        group = await self._groups.get(app, group_id)
        if actor is not None and await self._groups.member(app, group.id, actor) is None:
            raise ChatError(ErrorCode.GROUP_NOT_JOINED, "not in group or chatroom")
        await self._find(app, group.id, message_id)
        limit = max(1, min(limit, MAX_PAGE))
        names, total = await self._store.readers(group.id, message_id, limit + 1, after)
        more = len(names) > limit
        names = names[:limit]
        return ReadPage(names, total, names[-1] if more and names else None)

    async def _find(self, app: App, group_id: str, message_id: int) -> SentMessage:
        sent = await self._store.message(app.id, message_id) if message_id > 0 else None
        if sent is None or sent.chat_type != "groupchat" or sent.recipient != group_id:
            raise ChatError(ErrorCode.MESSAGE_INVALID, "message does not exist in this group")
        return sent

    def _plain_ack(self, now: int) -> Stored:
        """The reader's ack when nothing was written (a repeat, or no one to tell)."""
        return Stored(self._ids.next_id(), now)


def _asked_for_receipts(meta_bytes: bytes) -> bool:
    try:
        meta = decode_payload(pb.Meta, meta_bytes)
        body = decode_payload(pb.MessageBody, meta.payload)
    except FrameError:
        return False
    return bool(body.msg_config.allow_group_ack)


def _receipt(
    app: App,
    reader: Sender,
    group_id: str,
    to_id: str,
    sent: SentMessage,
    ack: pb.MessageBody,
    count: int,
) -> Delivery:
    """READ_ACK from the reader to the group, for the message's sender alone."""
    body = pb.MessageBody(
        type=pb.MessageBody.READ_ACK, ack_message_id=ack.ack_message_id, ack_content=ack.ack_content
    )
    body.from_jid.CopyFrom(jid(app.app_key, reader.username))
    body.to_jid.CopyFrom(jid(app.app_key, group_id, GROUP_DOMAIN))
    body.msg_config.allow_group_ack = True
    body.ext.append(pb.KeyValue(key=COUNT_KEY, type=pb.KeyValue.STRING, string_value=str(count)))
    from_jid = jid(app.app_key, reader.username, resource=reader.resource)
    to_jid = jid(app.app_key, group_id, GROUP_DOMAIN)
    encode = meta_encoder(from_jid, to_jid, pb.Meta.CHAT, body.SerializeToString())
    rows = (InboxRow(to_id, EVENT_QUEUE, None),)
    notices: Sequence[Notice] = [Notice(app.id, app.app_key, sent.sender, EVENT_QUEUE)]
    draft = Draft(app.id, "read_ack", reader.username, reader.resource, sent.sender, rows, encode)
    return Delivery(draft, notices)
