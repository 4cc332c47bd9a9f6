"""``ChatMessage``: what users send and receive, and its msync form.

A message is immutable; sending returns a copy carrying the server's id and time::

    msg = ChatMessage.text("bob", "hi", ext={"mood": "happy"})
    sent = await client.chat.send_message(msg)
    sent.msg_id, sent.timestamp      # assigned by the server
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import (
    GROUP_DOMAIN,
    USER_DOMAIN,
    ChatType,
    Content,
    ContentKind,
    FrameError,
    content_from_pb,
    content_to_pb,
    decode_payload,
    ext_from_keyvalues,
    ext_to_keyvalues,
    jid,
    pb,
)

__all__ = ["ChatMessage", "ChatType", "MessageType", "message_from_meta", "message_to_meta"]

MessageType = ContentKind
"""The kind of a message body (``MessageType.TEXT`` is ``"txt"``, as Agora's REST API names it)."""

MAX_ID_CHARS: Final = 64
_BODY_TYPES: Final = {
    pb.MessageBody.CHAT: ChatType.CHAT,
    pb.MessageBody.GROUPCHAT: ChatType.GROUP,
    pb.MessageBody.CHATROOM: ChatType.ROOM,
}


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One chat message, sent or received.

    Attributes:
        to: The recipient: a username, or a group/room id for group chats.
        body: The content (text, custom, cmd or location); ``type`` tells which.
        chat_type: One-to-one (``ChatType.CHAT``), group or chat room.
        ext: Extension attributes (str, int, float, bool, or JSON-able values).
        msg_id: The server's id (a decimal string); ``None`` until the server acked it.
        sender: The sender's username; filled in on received and sent messages.
        timestamp: Server time in milliseconds; ``0`` until the server acked it.
        local_id: The id this client used on the wire (sent messages only).
        local_path: The file of an image/voice/video/file message not uploaded yet;
            ``send_message`` uploads it and fills in the body's url and secret.

    Example:
        >>> ChatMessage.text("bob", "hello").text
        'hello'
    """

    to: str
    body: Content
    chat_type: ChatType = ChatType.CHAT
    ext: Mapping[str, object] = field(default_factory=dict)
    msg_id: str | None = None
    sender: str = ""
    timestamp: int = 0
    local_id: int | None = None
    local_path: str | None = None

    # -- constructors ------------------------------------------------------------------

    @classmethod
    def text(
        cls,
        to: str,
        text: str,
        *,
        chat_type: ChatType = ChatType.CHAT,
        ext: Mapping[str, object] | None = None,
    ) -> ChatMessage:
        """A text message. Example: ``ChatMessage.text("bob", "hi")``."""
        return cls(to, Content(ContentKind.TEXT, text=text), chat_type, dict(ext or {}))

    @classmethod
    def custom(
        cls,
        to: str,
        event: str,
        params: Mapping[str, str] | None = None,
        *,
        chat_type: ChatType = ChatType.CHAT,
        ext: Mapping[str, object] | None = None,
    ) -> ChatMessage:
        """A custom message: an event name and up to 16 string parameters.

        Example: ``ChatMessage.custom("bob", "gift", {"count": "3"})``.
        """
        content = Content(ContentKind.CUSTOM, custom_event=event, custom_exts=dict(params or {}))
        return cls(to, content, chat_type, dict(ext or {}))

    @classmethod
    def cmd(
        cls,
        to: str,
        action: str,
        *,
        chat_type: ChatType = ChatType.CHAT,
        ext: Mapping[str, object] | None = None,
    ) -> ChatMessage:
        """A command message, delivered to ``on_cmd_message_received`` (never stored as chat).

        Example: ``ChatMessage.cmd("bob", "typing")``.
        """
        return cls(to, Content(ContentKind.CMD, action=action), chat_type, dict(ext or {}))

    @classmethod
    def location(
        cls,
        to: str,
        latitude: float,
        longitude: float,
        address: str = "",
        *,
        building_name: str = "",
        chat_type: ChatType = ChatType.CHAT,
        ext: Mapping[str, object] | None = None,
    ) -> ChatMessage:
        """A location. Example: ``ChatMessage.location("bob", 48.85, 2.35, "Paris")``."""
        content = Content(
            ContentKind.LOCATION,
            latitude=latitude,
            longitude=longitude,
            address=address,
            building_name=building_name,
        )
        return cls(to, content, chat_type, dict(ext or {}))

    @classmethod
    def _attachment(
        cls,
        kind: ContentKind,
        to: str,
        path: str | os.PathLike[str],
        chat_type: ChatType,
        ext: Mapping[str, object] | None,
        **fields: Any,
    ) -> ChatMessage:
        content = Content(kind, filename=os.path.basename(os.fspath(path)), **fields)
        return cls(to, content, chat_type, dict(ext or {}), local_path=os.fspath(path))

    @classmethod
    def image(
        cls,
        to: str,
        path: str | os.PathLike[str],
        *,
        width: float = 0,
        height: float = 0,
        chat_type: ChatType = ChatType.CHAT,
        ext: Mapping[str, object] | None = None,
    ) -> ChatMessage:
        """An image, uploaded when sent (its size read from the file if not given).

        Example: ``await client.chat.send_message(ChatMessage.image("bob", "cat.jpg"))``.
        """
        return cls._attachment(
            ContentKind.IMAGE, to, path, chat_type, ext, width=width, height=height
        )

    @classmethod
    def voice(
        cls,
        to: str,
        path: str | os.PathLike[str],
        duration: int = 0,
        *,
        chat_type: ChatType = ChatType.CHAT,
        ext: Mapping[str, object] | None = None,
    ) -> ChatMessage:
        """A voice message (``duration`` in seconds), uploaded when sent."""
        return cls._attachment(ContentKind.VOICE, to, path, chat_type, ext, duration=duration)

    @classmethod
    def video(
        cls,
        to: str,
        path: str | os.PathLike[str],
        duration: int = 0,
        *,
        chat_type: ChatType = ChatType.CHAT,
        ext: Mapping[str, object] | None = None,
    ) -> ChatMessage:
        """A video (``duration`` in seconds), uploaded when sent; its poster frame is
        ``thumbnail_url`` (made by the server when it has ffmpeg)."""
        return cls._attachment(ContentKind.VIDEO, to, path, chat_type, ext, duration=duration)

    @classmethod
    def file(
        cls,
        to: str,
        path: str | os.PathLike[str],
        *,
        chat_type: ChatType = ChatType.CHAT,
        ext: Mapping[str, object] | None = None,
    ) -> ChatMessage:
        """Any file, uploaded when sent. Example: ``ChatMessage.file("bob", "report.pdf")``."""
        return cls._attachment(ContentKind.FILE, to, path, chat_type, ext)

    # -- views -------------------------------------------------------------------------

    @property
    def type(self) -> MessageType:
        """The body kind: ``MessageType.TEXT``, ``CUSTOM``, ``CMD``, ``LOCATION`` ..."""
        return self.body.kind

    @property
    def conversation_id(self) -> str:
        """The peer (1:1) or the group/room this message belongs to, from ``me``'s side."""
        return self.to

    def validate(self) -> None:
        """Raise ``ChatError(MESSAGE_INVALID)`` for a message no server would accept."""
        if not isinstance(self.to, str) or not self.to.strip():
            raise ChatError(ErrorCode.MESSAGE_INVALID, "the message has no recipient")
        if len(self.to) > MAX_ID_CHARS or any(ch.isspace() for ch in self.to):
            raise ChatError(ErrorCode.MESSAGE_INVALID, f"{self.to!r} is not a valid recipient")
        self.body.validate()
        ext_to_keyvalues(self.ext)  # raises MESSAGE_INVALID for values that cannot travel

    def __hash__(self) -> int:  # ``ext`` is a dict: hash the identifying fields only
        return hash((self.msg_id, self.local_id, self.sender, self.to, self.timestamp))

    def __repr__(self) -> str:
        what = self.body.text if self.body.kind is ContentKind.TEXT else self.body.kind.value
        return (
            f"ChatMessage({self.sender or '?'}->{self.to}, {what!r}, "
            f"id={self.msg_id}, ts={self.timestamp})"
        )


# -- the wire form (private to the SDK) ----------------------------------------------------


def message_to_meta(message: ChatMessage, app_key: str, me: str, local_id: int) -> pb.Meta:
    """The uplink ``Meta`` the Web SDK would send for this message (no ``from``: §5.8)."""
    domain = USER_DOMAIN if message.chat_type is ChatType.CHAT else GROUP_DOMAIN
    body = pb.MessageBody(
        type=message.chat_type.to_pb(),
        from_jid=pb.JID(name=me),
        to_jid=pb.JID(name=message.to),
        contents=[content_to_pb(message.body)],
        ext=ext_to_keyvalues(message.ext),
    )
    return pb.Meta(
        id=local_id,
        to_jid=jid(app_key, message.to, domain),
        ns=pb.Meta.CHAT,
        routetype=pb.Meta.ROUTE_ALL,
        payload=body.SerializeToString(),
    )


def message_from_meta(meta: pb.Meta) -> ChatMessage | None:
    """A received chat ``Meta`` as a message; ``None`` for metas that are not chat messages
    (receipts, recalls, unknown content), which this SDK does not surface yet."""
    if meta.ns != pb.Meta.CHAT:
        return None
    try:
        body = decode_payload(pb.MessageBody, meta.payload)
    except FrameError:
        return None
    chat_type = _BODY_TYPES.get(body.type)
    if chat_type is None or not body.contents:
        return None
    try:
        content = content_from_pb(body.contents[0])
    except ChatError:
        return None
    sender = body.from_jid.name or meta.from_jid.name
    to = body.to_jid.name or meta.to_jid.name
    return ChatMessage(
        to=to,
        body=content,
        chat_type=chat_type,
        ext=ext_from_keyvalues(body.ext),
        msg_id=str(meta.id),
        sender=sender,
        timestamp=meta.timestamp,
    )


def with_ack(message: ChatMessage, me: str, local_id: int, server_id: int, ts: int) -> ChatMessage:
    return replace(message, msg_id=str(server_id), sender=me, timestamp=ts, local_id=local_id)
