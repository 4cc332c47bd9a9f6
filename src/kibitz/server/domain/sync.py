"""Sync: what a device pulls, acknowledges and is told it has waiting.

The one door to a device's cursors and inbox, for the gateway and for REST alike: neither
calls a store. A device is *online* on the node that holds its session; the store may keep
that device's cursors in memory until it goes offline again.

A conversation's queue (a group's, a room's) holds rows that belong to the conversation,
read by each member device past its own cursor: this service resolves such a queue to its
rows' owner through the ``Conversations`` port, and only for members (anyone else pulls an
empty batch, and its acknowledgements are not written).
"""

from __future__ import annotations

import logging
from typing import Final, Protocol

from kibitz.protocol import ChatError, ErrorCode

from .app_settings import AppSettingsReader
from .conversations import Conversation, Conversations, NoConversations, is_conversation_queue
from .messaging import Device, MessageStore, QueueCount

__all__ = ["MAX_KEY", "DeviceCounts", "SyncService"]

# Message ids are signed 64-bit in storage: a key past this names no message ever stored.
MAX_KEY: Final = 2**63 - 1

log = logging.getLogger(__name__)


class DeviceCounts(Protocol):
    """Told how many devices a user has at each login (``MessagingService``)."""

    def device_count(self, owner: str, devices: int) -> None: ...


class SyncService:
    def __init__(
        self,
        store: MessageStore,
        *,
        batch_size: int,
        counts: DeviceCounts | None = None,
        conversations: Conversations | None = None,
        settings: AppSettingsReader | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._batch = batch_size
        self._counts = counts
        self._conversations = conversations if conversations is not None else NoConversations()

    # -- devices -------------------------------------------------------------------------

    async def device_online(self, owner: str, resource: str, now_ms: int) -> dict[str, int]:
        """A login: record the device (a new one starts at the owner's most advanced
        cursors) and return its cursors, which the store now tracks for this node."""
        registered = await self._store.register_device(owner, resource, now_ms)
        if self._counts is not None:
            self._counts.device_count(owner, registered.devices)
        cursors = await self._store.online(owner, resource)
        # A conversation joined since this device last read it starts at the joining:
        # what was said before is history, not unread. Nor does a device that was away
        # long get more than the app's last ``group_offline_messages`` (Agora: 200).
        for conversation in await self._conversations.joined(owner):
            floor = max(conversation.since, await self._offline_floor(conversation))
            if floor > cursors.get(conversation.queue, 0):
                await self._store.ack(owner, resource, conversation.queue, floor)
                cursors[conversation.queue] = floor
        return cursors

    async def _offline_floor(self, conversation: Conversation) -> int:
        if self._settings is None:
            return 0
        keep = (await self._settings.get(conversation.app_pk)).group_offline_messages
        return await self._store.nth_newest(conversation.key, conversation.queue, keep)

    def device_offline(self, owner: str, resource: str) -> None:
        """No session of that device is left on this node."""
        self._store.offline(owner, resource)

    async def devices(self, owner: str) -> list[Device]:
        return await self._store.devices(owner)

    async def start_at(self, owner: str, queue: str, key: int) -> None:
        """Every device of ``owner`` has read ``queue`` up to ``key`` (a user joining a
        group starts at its head: what was said before is history, not unread)."""
        for device in await self._store.devices(owner):
            await self._store.ack(owner, device.resource, queue, key)

    # -- reading ---------------------------------------------------------------------------

    async def unread(self, owner: str, resource: str) -> list[QueueCount]:
        """The UNREAD summary; queues holding only this device's own sends are skipped
        (and its cursor moved past them, so they are not counted again)."""
        joined = await self._conversations.joined(owner)
        if joined:
            pairs = [(c.key, c.queue) for c in joined]
            counts = await self._store.unread(owner, resource, pairs)
        else:
            counts = await self._store.unread(owner, resource)
        for qc in counts:
            if qc.count == 0:
                self._store.ack_later(owner, resource, qc.queue, qc.last_id)
        return [qc for qc in counts if qc.count > 0]

    async def ack(self, owner: str, resource: str, queue: str, key: int) -> None:
        """Everything ≤ ``key`` in ``queue`` reached the device. A failure to store it is
        logged, not raised: the device then sees those messages again, it loses none.
        A key no message can have is refused (MESSAGE_INVALID) before it reaches storage,
        where it would fail the whole group commit it shares with other users' writes."""
        _check_key(key)
        if is_conversation_queue(queue) and await self._rows_owner(owner, queue) is None:
            return  # not a member: no cursor for a queue it cannot read
        await self._store_ack(owner, resource, queue, key)

    async def _store_ack(self, owner: str, resource: str, queue: str, key: int) -> None:
        try:
            await self._store.ack(owner, resource, queue, key)
        except Exception:
            log.warning("acknowledgement of a queue not stored", exc_info=True)

    async def ack_and_pull(
        self, owner: str, resource: str, queue: str, key: int
    ) -> list[tuple[int, bytes]]:
        """``ack(key)`` then ``pull`` past it — what a device's acknowledging pull asks —
        with a conversation's membership looked up once for both."""
        _check_key(key)
        if not is_conversation_queue(queue):
            await self._store_ack(owner, resource, queue, key)
            return await self._store.pull(owner, resource, queue, key, self._batch)
        rows_owner = await self._rows_owner(owner, queue)
        if rows_owner is None:
            return []
        await self._store_ack(owner, resource, queue, key)
        return await self._store.pull(owner, resource, queue, key, self._batch, rows_owner)

    async def pull(
        self, owner: str, resource: str, queue: str, after: int
    ) -> list[tuple[int, bytes]]:
        """The next batch of ``queue`` past ``after`` and the device's cursor."""
        if not is_conversation_queue(queue):
            return await self._store.pull(owner, resource, queue, after, self._batch)
        rows_owner = await self._rows_owner(owner, queue)
        if rows_owner is None:
            return []
        return await self._store.pull(owner, resource, queue, after, self._batch, rows_owner)

    async def _rows_owner(self, owner: str, queue: str) -> str | None:
        """Whose rows a conversation queue holds, if ``owner`` is one of its members."""
        conversation = await self._conversations.member_of(owner, queue)
        return None if conversation is None else conversation.key


def _check_key(key: int) -> None:
    """A key no message can have is refused (MESSAGE_INVALID) before it reaches storage."""
    if not 0 <= key <= MAX_KEY:
        raise ChatError(ErrorCode.MESSAGE_INVALID, "no message has that key")
