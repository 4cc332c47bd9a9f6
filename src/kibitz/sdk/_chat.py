"""``client.chat``: sending messages, and turning received Metas into listener calls."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from kibitz.protocol import ChatError, ErrorCode, IdGenerator
from kibitz.protocol._msync import ATTACHMENT_KINDS, ContentKind, pb

from ._listeners import CmdMessagesReceived, Dispatcher, MessagesReceived, MessageStream
from ._message import ChatMessage, message_from_meta, message_to_meta, with_ack

if TYPE_CHECKING:
    from ._client import ChatClient

__all__ = ["ChatManager"]

SEEN_IDS: Final = 10_000


class _Seen:
    """The most recent message ids, so a message redelivered after a reconnect (its batch
    was not acknowledged yet) reaches listeners only once."""

    def __init__(self, capacity: int = SEEN_IDS) -> None:
        self._ids: OrderedDict[int, None] = OrderedDict()
        self._capacity = capacity

    def add(self, msg_id: int) -> bool:
        """True when ``msg_id`` is new."""
        if msg_id in self._ids:
            self._ids.move_to_end(msg_id)
            return False
        self._ids[msg_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True


class ChatManager:
    """Messages: ``client.chat.send_message(...)`` and message listeners.

    Example:
        >>> sent = await client.chat.send_message(ChatMessage.text("bob", "hi"))  # doctest: +SKIP
        >>> sent.msg_id  # doctest: +SKIP
        '1171839251744882100'
    """

    def __init__(
        self, client: ChatClient, dispatcher: Dispatcher, now_ms: Callable[[], int]
    ) -> None:
        self._client = client
        self._dispatcher = dispatcher
        self._ids = IdGenerator(now_ms)
        self._seen = _Seen()

    def add_message_listener(self, listener: object) -> None:
        """Register an object with any of the ``MessageListener`` methods."""
        if listener not in self._dispatcher.message_listeners:
            self._dispatcher.message_listeners.append(listener)

    def remove_message_listener(self, listener: object) -> None:
        if listener in self._dispatcher.message_listeners:
            self._dispatcher.message_listeners.remove(listener)

    def messages(self) -> MessageStream:
        """Received messages one by one (an async iterator; bounded, with back-pressure).

        Example:
            >>> async with client.chat.messages() as inbox:  # doctest: +SKIP
            ...     async for message in inbox:
            ...         print(message.sender, message.body.text)
        """
        return MessageStream(self._dispatcher.subscribe())

    async def send_message(self, message: ChatMessage) -> ChatMessage:
        """Send a message; returns it with the server's ``msg_id`` and ``timestamp``.

        Raises:
            ChatError: ``USER_NOT_LOGIN`` before login; ``MESSAGE_INVALID`` for an empty or
                unaddressed message; ``USER_NOT_FOUND`` for an unknown recipient;
                ``SERVER_TIMEOUT`` without an ack in ``request_timeout``;
                ``NETWORK_ERROR`` when the connection broke before the ack; for a file
                not uploaded yet, ``FILE_NOT_FOUND``, ``FILE_TOO_LARGE``, ``FILE_INVALID``
                or ``FILE_UPLOAD_FAILED``.
        """
        conn = await self._client._ready_connection()
        if message.body.kind in ATTACHMENT_KINDS and not message.body.url:
            message = await self._client._upload(message)  # FILE_* on failure
        message.validate()
        me = conn.login.username
        local_id = self._ids.next_id()
        meta = message_to_meta(message, conn.login.app_key, me, local_id)
        ack = await conn.send_meta(meta)
        if not ack.server_id:
            raise ChatError(ErrorCode.SERVER_UNKNOWN_ERROR, "the send ack carries no server id")
        ts = ack.timestamp or int(time.time() * 1000)
        return with_ack(message, me, local_id, ack.server_id, ts)

    async def _on_metas(self, metas: list[pb.Meta]) -> None:
        """Called by the connection's reader for each batch of chat Metas, in order."""
        messages: list[ChatMessage] = []
        commands: list[ChatMessage] = []
        for meta in metas:
            if not self._seen.add(meta.id):
                continue
            message = message_from_meta(meta)
            if message is None:
                continue
            (commands if message.body.kind is ContentKind.CMD else messages).append(message)
        if messages:
            await self._dispatcher.emit(MessagesReceived(messages))
        if commands:
            await self._dispatcher.emit(CmdMessagesReceived(commands))
