"""Agora AccessToken2 (``007``) chat tokens: build, parse and verify.

Our own implementation of the layout in docs/agora-protocol.md §1, so that tokens minted by
the official builders (npm ``agora-token``, Java, Python) log in to kibitz and tokens kibitz
mints are accepted by them. Standard library only: the domain must not depend on a vendor SDK.

Verification always recomputes the HMAC over the exact bytes received (``signed_part``):
builders differ in service order, so re-serialising parsed fields would reject valid tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from kibitz.protocol import ChatError, ErrorCode

__all__ = [
    "CHAT_SERVICE",
    "PRIVILEGE_APP",
    "PRIVILEGE_USER",
    "ParsedService",
    "ParsedToken",
    "TokenFormatError",
    "VerifiedChatToken",
    "build_chat_app_token",
    "build_chat_user_token",
    "parse_token",
    "verify_chat_token",
]

VERSION = "007"
CHAT_SERVICE = 5
PRIVILEGE_USER = 1
PRIVILEGE_APP = 2

# Real tokens are a few hundred characters; the caps bound a hostile header's cost.
MAX_TOKEN_CHARS = 16_384
MAX_PAYLOAD_BYTES = 65_536
SIGNATURE_BYTES = 32

_U32_MAX = 0xFFFF_FFFF

# Trailing fields per documented service type (§1.3): "s" = string, "h" = i16.
_SERVICE_LAYOUTS: dict[int, str] = {
    1: "ss",  # RTC: channel, uid
    2: "s",  # RTM: user_id
    3: "ss",  # streaming: channel, uid
    4: "",  # FPA
    CHAT_SERVICE: "s",  # chat: user_id (UUID for privilege 1, empty for 2)
    7: "ssh",  # education: room_uuid, user_uuid, role
}


class TokenFormatError(ValueError):
    """The text is not a well-formed AccessToken2; says nothing about its signature."""


@dataclass(frozen=True)
class ParsedService:
    """One service entry; privilege values are seconds relative to ``issue_ts``."""

    service_type: int
    privileges: dict[int, int]
    fields: tuple[str | int, ...]  # chat: (user_id,)


@dataclass(frozen=True)
class ParsedToken:
    """A decoded token, not yet verified. ``signed_part`` is the exact signed bytes."""

    app_id: str
    issue_ts: int
    expire: int
    salt: int
    services: tuple[ParsedService, ...]
    signature: bytes
    signed_part: bytes


@dataclass(frozen=True)
class VerifiedChatToken:
    """What a verified token grants; the caller still matches ``user_id`` to the login."""

    app_id: str
    user_id: str
    issue_ts: int
    expires_at_s: int


def build_chat_user_token(
    app_id: str,
    app_certificate: str,
    user_uuid: str,
    expire_s: int,
    *,
    issue_ts: int,
    salt: int | None = None,
) -> str:
    """Mint an SDK-login token (chat privilege 1) for the user with this UUID."""
    # Official builders set the privilege value equal to the token lifetime (§1.4).
    chat = ParsedService(CHAT_SERVICE, {PRIVILEGE_USER: expire_s}, (user_uuid,))
    return _build(app_id, app_certificate, issue_ts, expire_s, salt, [chat])


def build_chat_app_token(
    app_id: str, app_certificate: str, expire_s: int, *, issue_ts: int, salt: int | None = None
) -> str:
    """Mint a REST-administration token (chat privilege 2, empty user id)."""
    chat = ParsedService(CHAT_SERVICE, {PRIVILEGE_APP: expire_s}, ("",))
    return _build(app_id, app_certificate, issue_ts, expire_s, salt, [chat])


def _build(
    app_id: str, cert: str, issue_ts: int, expire: int, salt: int | None, svcs: list[ParsedService]
) -> str:
    if not cert:
        raise ValueError("an app certificate is required to sign a token")
    if salt is None:
        salt = secrets.randbelow(99_999_999) + 1  # the range the official builders use
    for name, value in (("expire", expire), ("issue_ts", issue_ts), ("salt", salt)):
        if not 0 <= value <= _U32_MAX:
            raise ValueError(f"{name} must fit in an unsigned 32-bit integer, got {value}")
    packed = [_pack_service(s) for s in svcs]
    signed_part = b"".join(
        [_pack_str(app_id), struct.pack("<IIIH", issue_ts, expire, salt, len(packed)), *packed]
    )
    signature = _sign(cert, issue_ts, salt, signed_part)
    payload = _pack_str(signature) + signed_part
    return VERSION + base64.b64encode(zlib.compress(payload)).decode("ascii")


def _pack_service(service: ParsedService) -> bytes:
    layout = _SERVICE_LAYOUTS.get(service.service_type)
    if layout is None or len(layout) != len(service.fields):
        raise ValueError(f"cannot pack service {service.service_type} with {service.fields!r}")
    out = [struct.pack("<HH", service.service_type, len(service.privileges))]
    for key in sorted(service.privileges):  # ascending, as the builders emit
        out.append(struct.pack("<HI", key, service.privileges[key]))
    for kind, value in zip(layout, service.fields, strict=True):
        if kind == "s" and isinstance(value, str):
            out.append(_pack_str(value))
        elif kind == "h" and isinstance(value, int):
            out.append(struct.pack("<h", value))
        else:
            raise ValueError(f"field {value!r} does not fit service {service.service_type}")
    return b"".join(out)


def _pack_str(text: str | bytes) -> bytes:
    data = text.encode("utf-8") if isinstance(text, str) else text
    if len(data) > 0xFFFF:
        raise ValueError("string longer than 65535 bytes")
    return struct.pack("<H", len(data)) + data


def _sign(certificate: str, issue_ts: int, salt: int, signed_part: bytes) -> bytes:
    # The certificate is used as its ASCII text, not hex-decoded (§1.5).
    k1 = hmac.digest(struct.pack("<I", issue_ts), certificate.encode("utf-8"), hashlib.sha256)
    k2 = hmac.digest(struct.pack("<I", salt), k1, hashlib.sha256)
    return hmac.digest(k2, signed_part, hashlib.sha256)


class _Reader:
    """Little-endian cursor that turns every overrun into ``TokenFormatError``."""

    __slots__ = ("_data", "pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self._data):
            raise TokenFormatError("token is truncated")
        chunk = self._data[self.pos : end]
        self.pos = end
        return chunk

    def ints(self, fmt: str) -> tuple[int, ...]:
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))

    def blob(self) -> bytes:
        (length,) = self.ints("<H")
        return self._take(length)

    def text(self) -> str:
        try:
            return self.blob().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TokenFormatError("string field is not UTF-8") from exc


def parse_token(token: str) -> ParsedToken:
    """Decode a ``007`` token without checking its signature or times; strict on form."""
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenFormatError("token is too long")
    if not token.startswith(VERSION):
        raise TokenFormatError("not an AccessToken2 (missing '007' prefix)")
    body = token[len(VERSION) :]
    try:
        compressed = base64.b64decode(body, validate=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII text
        raise TokenFormatError("token body is not standard base64") from exc
    if base64.b64encode(compressed).decode("ascii") != body:  # one spelling per token
        raise TokenFormatError("token body is not canonical base64")
    payload = _inflate(compressed)

    reader = _Reader(payload)
    signature = reader.blob()
    if len(signature) != SIGNATURE_BYTES:
        raise TokenFormatError("signature is not 32 bytes")
    signed_part = payload[reader.pos :]
    app_id = reader.text()
    issue_ts, expire, salt, count = reader.ints("<IIIH")
    services = tuple(_parse_service(reader) for _ in range(count))
    if reader.pos != len(payload):
        raise TokenFormatError("trailing bytes after the last service")
    return ParsedToken(app_id, issue_ts, expire, salt, services, signature, signed_part)


def _inflate(compressed: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        payload = inflater.decompress(compressed, MAX_PAYLOAD_BYTES)
    except zlib.error as exc:
        raise TokenFormatError("token body is not zlib data") from exc
    if inflater.unconsumed_tail or not inflater.eof:
        raise TokenFormatError("zlib stream is truncated or inflates beyond the size limit")
    if inflater.unused_data:
        raise TokenFormatError("trailing bytes after the zlib stream")
    return payload


def _parse_service(reader: _Reader) -> ParsedService:
    service_type, count = reader.ints("<HH")
    layout = _SERVICE_LAYOUTS.get(service_type)
    if layout is None:  # its length is unknown, so it cannot be skipped (§1.3)
        raise TokenFormatError(f"unknown service type {service_type}")
    privileges: dict[int, int] = {}
    for _ in range(count):
        key, value = reader.ints("<HI")
        if key in privileges:
            raise TokenFormatError(f"duplicate privilege {key} in service {service_type}")
        privileges[key] = value
    fields = tuple(reader.text() if kind == "s" else reader.ints("<h")[0] for kind in layout)
    return ParsedService(service_type, privileges, fields)


def verify_chat_token(
    token: str,
    *,
    certificate_for: Callable[[str], str | None],
    now_s: int,
    privilege: int,
    skew_s: int = 300,
) -> VerifiedChatToken:
    """Check signature, chat ``privilege`` and validity window at ``now_s`` (§1.6).

    Raises ``ChatError(INVALID_TOKEN)`` for anything forged, malformed or lacking the
    privilege, and ``ChatError(USER_AUTHENTICATION_FAILED)`` for an expired token.
    """
    try:
        parsed = parse_token(token)
    except TokenFormatError as exc:
        raise ChatError(ErrorCode.INVALID_TOKEN, "malformed token") from exc
    certificate = certificate_for(parsed.app_id)
    if not certificate:
        raise ChatError(ErrorCode.INVALID_TOKEN, "unknown app id")
    expected = _sign(certificate, parsed.issue_ts, parsed.salt, parsed.signed_part)
    if not hmac.compare_digest(expected, parsed.signature):
        raise ChatError(ErrorCode.INVALID_TOKEN, "token signature does not verify")
    granting = [
        s for s in parsed.services if s.service_type == CHAT_SERVICE and privilege in s.privileges
    ]
    if not granting:
        raise ChatError(ErrorCode.INVALID_TOKEN, "token does not grant this chat privilege")
    if len(granting) > 1:  # Node can emit repeats; refuse rather than guess which user
        raise ChatError(ErrorCode.INVALID_TOKEN, "token grants this chat privilege twice")
    service = granting[0]
    user_id = service.fields[0]
    if not isinstance(user_id, str) or (privilege == PRIVILEGE_USER and not user_id):
        raise ChatError(ErrorCode.INVALID_TOKEN, "user token without a user id")
    if parsed.issue_ts > now_s + skew_s:
        raise ChatError(ErrorCode.INVALID_TOKEN, "token issued in the future")
    expires_at = parsed.issue_ts + parsed.expire
    granted_for = service.privileges[privilege]
    if granted_for:  # 0 means "limited only by the token expiry" (§1.6)
        expires_at = min(expires_at, parsed.issue_ts + granted_for)
    if now_s > expires_at:
        raise ChatError(ErrorCode.USER_AUTHENTICATION_FAILED, "token expired")
    return VerifiedChatToken(parsed.app_id, user_id, parsed.issue_ts, expires_at)
