"""msync helpers shared by the server gateway and the Python SDK.

One implementation of the fiddly parts of the wire: frames, JIDs, ``ext`` attributes
(KeyValue lists) and message contents, so both sides agree byte for byte.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, TypeVar

from google.protobuf.message import DecodeError, Message

from . import msync_pb2 as pb
from ._errors import ChatError, ErrorCode
from ._json import JsonError
from ._json import loads as json_loads

__all__ = [
    "ATTACHMENT_KINDS",
    "GROUP_DOMAIN",
    "USER_DOMAIN",
    "ChatType",
    "Content",
    "ContentKind",
    "FrameError",
    "content_from_pb",
    "content_to_pb",
    "decode_frame",
    "decode_payload",
    "encode_frame",
    "ext_from_keyvalues",
    "ext_to_keyvalues",
    "is_absolute_url",
    "jid",
    "pb",
    "varint",
]

USER_DOMAIN: Final = "easemob.com"
GROUP_DOMAIN: Final = "conference.easemob.com"
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1

M = TypeVar("M", bound=Message)


class FrameError(ValueError):
    """Bytes that are not one well-formed msync frame."""


class ChatType(StrEnum):
    CHAT = "chat"
    GROUP = "groupchat"
    ROOM = "chatroom"

    def to_pb(self) -> pb.MessageBody.Type:
        return {
            ChatType.CHAT: pb.MessageBody.CHAT,
            ChatType.GROUP: pb.MessageBody.GROUPCHAT,
            ChatType.ROOM: pb.MessageBody.CHATROOM,
        }[self]


class ContentKind(StrEnum):
    """Message content kinds, named as Agora's REST API names them."""

    TEXT = "txt"
    CUSTOM = "custom"
    CMD = "cmd"
    LOCATION = "loc"
    IMAGE = "img"
    VOICE = "audio"
    VIDEO = "video"
    FILE = "file"


_KIND_TO_PB: Final[dict[ContentKind, pb.MessageBody.Content.Type]] = {
    ContentKind.TEXT: pb.MessageBody.Content.TEXT,
    ContentKind.CUSTOM: pb.MessageBody.Content.CUSTOM,
    ContentKind.CMD: pb.MessageBody.Content.COMMAND,
    ContentKind.LOCATION: pb.MessageBody.Content.LOCATION,
    ContentKind.IMAGE: pb.MessageBody.Content.IMAGE,
    ContentKind.VOICE: pb.MessageBody.Content.VOICE,
    ContentKind.VIDEO: pb.MessageBody.Content.VIDEO,
    ContentKind.FILE: pb.MessageBody.Content.FILE,
}
_PB_TO_KIND: Final = {v: k for k, v in _KIND_TO_PB.items()}


def varint(value: int) -> bytes:
    """Protobuf base-128 varint of a non-negative int, for splicing pre-encoded frames."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def jid(app_key: str, name: str, domain: str = USER_DOMAIN, resource: str = "") -> pb.JID:
    j = pb.JID(app_key=app_key, name=name, domain=domain)
    if resource:
        j.client_resource = resource
    return j


def encode_frame(command: pb.MSync.Command, payload: Message | bytes | None = None) -> bytes:
    """An ``MSync`` envelope around an inner message (serialised here, once)."""
    frame = pb.MSync(command=command)
    if payload is not None:
        frame.payload = payload if isinstance(payload, bytes) else payload.SerializeToString()
    return frame.SerializeToString()


def decode_frame(data: bytes) -> pb.MSync:
    frame = pb.MSync()
    try:
        frame.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise FrameError("not an msync frame") from exc
    if not data.isascii() and not _text_is_text(frame):
        raise FrameError("a string field of the msync frame is not UTF-8")
    return frame


def decode_payload(message_type: type[M], data: bytes) -> M:
    inner = message_type()
    try:
        inner.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise FrameError(f"malformed {message_type.__name__}") from exc
    if not data.isascii() and not _text_is_text(inner):
        raise FrameError(f"a string field of {message_type.__name__} is not UTF-8")
    return inner


_STRING: Final = 9  # FieldDescriptor.TYPE_STRING
_MESSAGE: Final = 11  # FieldDescriptor.TYPE_MESSAGE


def _text_is_text(message: Message) -> bool:
    """Whether every string field holds text. Our .proto is proto2, where the protobuf
    runtime hands a string that is not UTF-8 over as ``bytes`` instead of refusing it; only
    bytes ≥ 0x80 can make one, so ASCII input never needs this walk."""
    for descriptor, value in message.ListFields():
        kind = descriptor.type
        if kind == _STRING:
            if isinstance(value, bytes) or (
                descriptor.is_repeated and any(isinstance(v, bytes) for v in value)
            ):
                return False
        elif kind == _MESSAGE:
            if descriptor.is_repeated:
                if not all(_text_is_text(v) for v in value):
                    return False
            elif not _text_is_text(value):
                return False
    return True


# -- ext attributes ----------------------------------------------------------------------


def ext_to_keyvalues(ext: Mapping[str, object]) -> list[pb.KeyValue]:
    """Python values → KeyValue, typed the way the Web SDK types them."""
    out: list[pb.KeyValue] = []
    for key, value in ext.items():
        kv = pb.KeyValue(key=str(key))
        if isinstance(value, bool):
            kv.type, kv.varint_value = pb.KeyValue.BOOL, int(value)
        elif isinstance(value, int):
            if not _INT64_MIN <= value <= _INT64_MAX:
                raise ChatError(ErrorCode.MESSAGE_INVALID, f"ext {key!r}: integer out of range")
            kv.type, kv.varint_value = pb.KeyValue.LLINT, value
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ChatError(ErrorCode.MESSAGE_INVALID, f"ext {key!r}: not a finite number")
            kv.type, kv.double_value = pb.KeyValue.DOUBLE, value
        elif isinstance(value, str):
            kv.type, kv.string_value = pb.KeyValue.STRING, value
        else:
            try:
                encoded = json.dumps(value, separators=(",", ":"), allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ChatError(ErrorCode.MESSAGE_INVALID, f"ext {key!r} is not JSON") from exc
            kv.type, kv.string_value = pb.KeyValue.JSON_STRING, encoded
        out.append(kv)
    return out


def ext_from_keyvalues(kvs: Iterable[pb.KeyValue]) -> dict[str, object]:
    out: dict[str, object] = {}
    for kv in kvs:
        value: object
        if kv.type == pb.KeyValue.BOOL:
            value = bool(kv.varint_value)
        elif kv.type in (pb.KeyValue.INT, pb.KeyValue.UINT, pb.KeyValue.LLINT):
            value = kv.varint_value
        elif kv.type == pb.KeyValue.FLOAT:
            value = kv.float_value
        elif kv.type == pb.KeyValue.DOUBLE:
            value = kv.double_value
        elif kv.type == pb.KeyValue.JSON_STRING:
            try:
                value = json_loads(kv.string_value)
            except JsonError:
                value = kv.string_value
        else:
            which = kv.WhichOneof("value")
            value = getattr(kv, which) if which else None
        out[kv.key] = value
    return out


# -- contents ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Content:
    """One message content, independent of the wire. Only the fields of its kind matter."""

    kind: ContentKind
    text: str = ""
    action: str = ""
    custom_event: str = ""
    custom_exts: dict[str, str] = field(default_factory=dict)
    latitude: float = 0.0
    longitude: float = 0.0
    address: str = ""
    building_name: str = ""
    # attachments (image, voice, video, file): where the file is and what it is
    url: str = ""  # remote_path: absolute, {rest base}/{org}/{app}/chatfiles/{uuid}
    secret: str = ""  # secret_key: the file's share secret
    filename: str = ""  # display_name
    file_length: int = 0
    width: float = 0.0  # size (images)
    height: float = 0.0
    duration: int = 0  # seconds (voice, video)
    thumbnail_url: str = ""  # video: the poster frame (thumbnail_remote_path)
    thumbnail_secret: str = ""

    def validate(self) -> None:
        """Raise MESSAGE_INVALID for content no client should send."""
        if self.kind in ATTACHMENT_KINDS:
            self._validate_attachment()
        if self.kind is ContentKind.TEXT and not self.text:
            raise ChatError(ErrorCode.MESSAGE_INVALID, "text message without text")
        if self.kind is ContentKind.CMD and not self.action:
            raise ChatError(ErrorCode.MESSAGE_INVALID, "cmd message without action")
        if self.kind is ContentKind.CUSTOM:
            if not self.custom_event and not self.custom_exts:
                raise ChatError(ErrorCode.MESSAGE_INVALID, "custom message without event")
            if len(self.custom_exts) > 16:
                raise ChatError(ErrorCode.MESSAGE_INVALID, "custom message with > 16 exts")
        if self.kind is ContentKind.LOCATION and not (
            -90.0 <= self.latitude <= 90.0 and -180.0 <= self.longitude <= 180.0
        ):
            raise ChatError(ErrorCode.MESSAGE_INVALID, "location out of range")

    def _validate_attachment(self) -> None:
        if not is_absolute_url(self.url):
            raise ChatError(ErrorCode.MESSAGE_INVALID, f"{self.kind} message needs an absolute url")
        if self.thumbnail_url and not is_absolute_url(self.thumbnail_url):
            raise ChatError(ErrorCode.MESSAGE_INVALID, "thumbnail url must be absolute")
        if not 0 <= self.file_length <= 2**31 - 1 or not 0 <= self.duration <= 2**31 - 1:
            raise ChatError(ErrorCode.MESSAGE_INVALID, "file length and duration are ≥ 0")
        for side in (self.width, self.height):
            if not (math.isfinite(side) and 0 <= side <= 100_000):
                raise ChatError(ErrorCode.MESSAGE_INVALID, "image size out of range")


ATTACHMENT_KINDS: Final = frozenset(
    {ContentKind.IMAGE, ContentKind.VOICE, ContentKind.VIDEO, ContentKind.FILE}
)


def is_absolute_url(url: str) -> bool:
    """``http(s)://host[:port]/…``: what the SDKs' host rewriting needs (it drops
    everything before the first ``/`` after the 9th character)."""
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    return (
        bool(sep)
        and scheme.lower() in ("http", "https")
        and bool(host)
        and len(url) <= 2048
        and url.isprintable()
        and " " not in url
    )


def content_to_pb(content: Content) -> pb.MessageBody.Content:
    c = pb.MessageBody.Content(type=_KIND_TO_PB[content.kind])
    if content.kind is ContentKind.TEXT:
        c.text = content.text
    elif content.kind is ContentKind.CMD:
        c.action = content.action
    elif content.kind is ContentKind.CUSTOM:
        c.custom_event = content.custom_event
        c.custom_exts.extend(
            pb.KeyValue(key=k, type=pb.KeyValue.STRING, string_value=v)
            for k, v in content.custom_exts.items()
        )
    elif content.kind is ContentKind.LOCATION:
        c.latitude, c.longitude = content.latitude, content.longitude
        c.address = content.address
        if content.building_name:
            c.building_name = content.building_name
    elif content.kind in ATTACHMENT_KINDS:
        c.remote_path = content.url
        c.secret_key = content.secret
        c.display_name = content.filename
        c.file_length = content.file_length
        if content.kind is ContentKind.IMAGE:
            c.size.width, c.size.height = content.width, content.height
        if content.kind in (ContentKind.VOICE, ContentKind.VIDEO):
            c.duration = content.duration
        if content.thumbnail_url:
            c.thumbnail_remote_path = content.thumbnail_url
            c.thumbnail_secret_key = content.thumbnail_secret
        c.thumbnail_display_name = content.filename
    return c


def content_from_pb(c: pb.MessageBody.Content) -> Content:
    kind = _PB_TO_KIND.get(c.type)
    if kind is None:
        raise ChatError(ErrorCode.MESSAGE_INVALID, f"unsupported content type {c.type}")
    return Content(
        kind=kind,
        text=c.text,
        action=c.action,
        custom_event=c.custom_event,
        custom_exts={kv.key: str(v) for kv, v in _string_values(c.custom_exts)},
        latitude=c.latitude,
        longitude=c.longitude,
        address=c.address,
        building_name=c.building_name,
        url=c.remote_path,
        secret=c.secret_key,
        filename=c.display_name,
        file_length=c.file_length,
        width=c.size.width,
        height=c.size.height,
        duration=c.duration,
        thumbnail_url=c.thumbnail_remote_path,
        thumbnail_secret=c.thumbnail_secret_key,
    )


def _string_values(kvs: Iterable[pb.KeyValue]) -> Iterable[tuple[pb.KeyValue, object]]:
    for kv in kvs:
        which = kv.WhichOneof("value")
        yield kv, (getattr(kv, which) if which else "")
