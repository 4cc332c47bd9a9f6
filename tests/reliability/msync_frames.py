"""Hypothesis strategies for hostile msync traffic, and what the gateway must do with each.

An ``Item`` is bytes a client writes (one or more WebSocket frames) with the outcome the
gateway documents for it (msync/close.py, dispatch.py, rawws.py): the close code it must
end the connection with, or None when it must answer and stay open. Binary payloads are
judged by the same decoder the server uses, so a random byte string that happens to be a
valid UNREAD is expected to be answered, and one that is not an MSync to close 1007.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from google.protobuf.unknown_fields import UnknownFieldSet
from hypothesis import strategies as st

from kibitz.protocol._msync import (
    GROUP_DOMAIN,
    USER_DOMAIN,
    FrameError,
    decode_frame,
    decode_payload,
    encode_frame,
    jid,
    pb,
    varint,
)

from .wsframes import BINARY, CLOSE, CONT, PING, PONG, TEXT, frame

__all__ = [
    "MAX_FRAME",
    "Item",
    "Login",
    "items",
    "outcome",
    "provision",
    "reply_problem",
]

MAX_FRAME: Final = 256 * 1024  # settings.max_frame_bytes
NORMAL, GOING_AWAY, PROTOCOL, UNSUPPORTED, BAD_DATA, POLICY, TOO_BIG = (
    1000, 1001, 1002, 1003, 1007, 1008, 1009,
)  # fmt: skip
U64: Final = 2**64 - 1
KEYS: Final = [0, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**63 + 1, U64]
_ROUTED: Final = {pb.MSync.PROVISION, pb.MSync.SYNC, pb.MSync.UNREAD, pb.MSync.LOGOUT}
_DENIED_REASONS: Final = {"Sorry, data is too large"}


@dataclass(frozen=True)
class Login:
    """A working login (the probe), and the credentials the garbage is made from."""

    app_key: str
    name: str
    token: str
    others: tuple[str, ...]  # tokens that are real but not this user's in this app


@dataclass(frozen=True)
class Item:
    label: str
    data: bytes
    frames: int
    closes: int | None  # the close code it must cause; None: answered, connection open
    may_reset: bool = False  # the server stops reading mid-frame: a TCP reset may win
    pings: tuple[bytes, ...] = ()  # ping payloads it carries (each is answered by a pong)


# -- the model ---------------------------------------------------------------------------


def _unknown_command(frame_: pb.MSync) -> bool:
    if frame_.command or frame_.HasField("command"):
        return False
    unknown = UnknownFieldSet(frame_)
    return any(unknown[i].field_number == 8 for i in range(len(unknown)))


def outcome(data: bytes, logged_in: bool) -> int | None:
    """The close code a binary frame must get (None: answered). Garbage PROVISIONs never
    log in (``provision`` guarantees a defect), so a PROVISION before login is refused."""
    try:
        frame_ = decode_frame(data)
    except FrameError:
        return BAD_DATA
    command = frame_.command
    if command not in _ROUTED or _unknown_command(frame_):
        return POLICY
    if not logged_in:
        return NORMAL if command == pb.MSync.PROVISION else POLICY
    if command == pb.MSync.PROVISION:
        return POLICY  # a second login
    if command == pb.MSync.LOGOUT:
        return NORMAL
    return None


def reply_problem(data: bytes) -> str | None:
    """What is wrong with a binary frame the server sent, if anything: it must be an MSync
    whose payload the SDK can read, with statuses the SDK maps."""
    try:
        msync = decode_frame(data)
        if msync.command == pb.MSync.SYNC:
            dl = decode_payload(pb.CommSyncDL, msync.payload)
            if dl.status.error_code == pb.Status.PERMISSION_DENIED:
                if dl.status.reason not in _DENIED_REASONS:
                    return f"PERMISSION_DENIED with reason {dl.status.reason!r}"
            if dl.metas and (not dl.HasField("queue") or dl.is_last):
                return "a batch of metas without its queue, or marked is_last"
            if dl.metas and not all(m.HasField("from_jid") for m in dl.metas):
                return "a meta without from"
            pulled = not dl.metas and not dl.HasField("meta_id")
            if pulled and dl.status.error_code == pb.Status.OK:
                if not dl.is_last or not dl.HasField("queue"):
                    return "an empty OK batch that is not is_last for a queue"
        elif msync.command == pb.MSync.UNREAD:
            dl_u = decode_payload(pb.CommUnreadDL, msync.payload)
            if dl_u.status.error_code != pb.Status.OK or dl_u.timestamp <= 0:
                return "an UNREAD reply that is not OK or has no timestamp"
        elif msync.command == pb.MSync.NOTICE:
            if not decode_payload(pb.CommNotice, msync.payload).queue.name:
                return "a NOTICE without a queue"
        elif msync.command == pb.MSync.PROVISION:
            decode_payload(pb.Provision, msync.payload)
        else:
            return f"command {msync.command}"
    except FrameError as exc:
        return f"not decodable: {exc}"
    return None


# -- payloads ----------------------------------------------------------------------------


def raw_field(number: int, value: bytes) -> bytes:
    """A length-delimited field spliced as is: strings that are not UTF-8, for one."""
    return varint(number << 3 | 2) + varint(len(value)) + value


def nested_json(depth: int, kind: str) -> str:
    if kind == "arrays":
        return "[" * depth + "]" * depth
    if kind == "objects":
        return '{"token":' * depth + '"x"' + "}" * depth
    return '{"token": ' + "[" * depth + "]" * depth + "}"  # the token itself nested


def provision(
    app_key: str,
    name: str,
    token: str,
    resource: str,
    *,
    where: str = "auth",
    auth_token: str | None = None,
) -> bytes:
    """A PROVISION the way the Web SDK builds it (``where`` the token goes)."""
    prov = pb.Provision(
        os_type=pb.Provision.OS_OTHER,
        version="1.4.0",
        device_uuid="fuzz",
        device_name="webim",
        resource=resource,
        action_version="v5.1",
        session_id="1:",
    )
    prov.compress_type.append(0)
    msync = pb.MSync(command=pb.MSync.PROVISION, guid=jid(app_key, name, USER_DOMAIN, resource))
    if where == "auth":
        msync.auth = "$t$" + token
    elif where == "provision":
        prov.auth = "$t$" + token
    elif where == "auth_token":
        prov.auth_token = json.dumps({"token": "$t$" + token})
    if auth_token is not None:
        prov.auth_token = auth_token
    msync.payload = prov.SerializeToString()
    return msync.SerializeToString()


@st.composite
def bad_provisions(draw: st.DrawFn, login: Login) -> tuple[str, bytes]:
    """A PROVISION with at least one defect, so that it can never log in."""
    resource = draw(st.sampled_from(["fz", "r1", ""]))
    where = draw(st.sampled_from(["auth", "provision", "auth_token"]))
    defect = draw(
        st.sampled_from(
            ["token", "foreign", "no token", "nested", "json", "app", "name", "resource", "utf8"]
        )
    )
    app_key, name, token = login.app_key, login.name, login.token
    if defect == "token":
        token = draw(st.sampled_from(["", "garbage", "eyJ.x.y", "007" + "A" * 300, "t" * 50_000]))
    elif defect == "foreign":
        token = draw(st.sampled_from(login.others))
    elif defect == "app":
        app_key = draw(st.sampled_from(["", "nope#nope", "acme", "#", "x" * 10_000, "其他#应用"]))
    elif defect == "name":
        name = draw(st.sampled_from(["", "nobody", "Alice", "x" * 10_000, "..", "a b"]))
    elif defect == "resource":
        resource = draw(st.sampled_from(["a/b", "x" * 129, "r\n1", "\x00", "\u2028"]))
    if defect in ("nested", "json", "no token"):
        auth_token = None
        if defect == "nested":
            depth = draw(st.sampled_from([65, 1_000, 20_000]))  # all under the frame limit
            auth_token = nested_json(depth, draw(st.sampled_from(["arrays", "objects", "token"])))
        elif defect == "json":
            auth_token = draw(
                st.sampled_from(['{"token": 5}', "[]", "null", '{"token": "$t$"}', "{", "x" * 9999])
            )
        data = provision(app_key, name, "", resource, where="none", auth_token=auth_token)
    else:
        data = provision(app_key, name, token, resource, where=where)
    if defect == "utf8":  # the token field, then the name, as bytes that are not UTF-8
        data = provision(app_key, name, "", resource, where="none")
        bad = draw(st.sampled_from([b"\xff", b"$t$\xed\xa0\x80", b"\xc0\xaf"]))
        data += raw_field(3, bad)  # MSync.auth
        if draw(st.booleans()):
            data += raw_field(2, raw_field(2, bad))  # guid.name (merged into the guid)
    return f"PROVISION ({defect})", data


def _names() -> st.SearchStrategy[str]:
    return st.sampled_from(["bob", "alice", "nobody", "", "Bad Name", "x" * 10_000, "1234"]) | (
        st.text(max_size=12)
    )


@st.composite
def sync_payloads(draw: st.DrawFn, app_key: str) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["pull", "pull", "send", "meta", "empty", "both", "bytes"]))
    ul = pb.CommSyncUL()
    if kind in ("pull", "both"):
        domain = draw(st.sampled_from([USER_DOMAIN, GROUP_DOMAIN, "", "x"]))
        ul.queue.CopyFrom(jid(draw(st.sampled_from([app_key, "", "x#y"])), draw(_names()), domain))
        if draw(st.booleans()):
            ul.key = draw(st.sampled_from(KEYS) | st.integers(0, U64))
    if kind in ("send", "meta", "both"):
        body = pb.MessageBody(type=draw(st.integers(0, 8)), to_jid=pb.JID(name=draw(_names())))
        content = pb.MessageBody.Content(type=draw(st.integers(0, 8)))
        content.text = draw(st.sampled_from(["hi", "", "z" * 200_000]) | st.text(max_size=20))
        body.contents.append(content)
        if draw(st.booleans()):
            deep = nested_json(draw(st.sampled_from([10, 65, 20_000])), "arrays")
            body.ext.append(pb.KeyValue(key="j", type=pb.KeyValue.JSON_STRING, string_value=deep))
        ul.meta.id = draw(st.sampled_from(KEYS) | st.integers(0, U64))
        ul.meta.ns = pb.Meta.CHAT if kind == "send" else draw(st.integers(0, 6))
        ul.meta.routetype = draw(st.integers(0, 2))
        ul.meta.to_jid.CopyFrom(jid(app_key, draw(_names())))
        ul.meta.payload = body.SerializeToString() if draw(st.integers(0, 3)) else b"\xff\x01"
    data = ul.SerializeToString()
    if kind == "bytes":
        data = draw(st.binary(max_size=64))
    if kind == "pull" and draw(st.integers(0, 5)) == 0:  # a queue name that is not UTF-8
        data += raw_field(3, raw_field(2, draw(st.sampled_from([b"\xff", b"b\xc0\xafb"]))))
    return f"SYNC ({kind})", encode_frame(pb.MSync.SYNC, data)


@st.composite
def msync_payloads(draw: st.DrawFn, login: Login) -> tuple[str, bytes]:
    """The bytes of one binary frame: mostly MSyncs, some garbage, some nearly right."""
    kind = draw(
        st.sampled_from(
            ["sync"] * 4 + ["unread", "provision", "logout", "notice", "command", "version"]
            + ["bytes", "truncated", "wire", "nested", "big"]
        )
    )  # fmt: skip
    if kind == "sync":
        return draw(sync_payloads(login.app_key))
    if kind == "unread":
        return "UNREAD", encode_frame(pb.MSync.UNREAD)
    if kind == "provision":
        return draw(bad_provisions(login))
    if kind == "logout":
        return "LOGOUT", encode_frame(pb.MSync.LOGOUT, pb.Logout(reason="inner:logout"))
    if kind == "notice":
        return "NOTICE", encode_frame(pb.MSync.NOTICE, pb.CommNotice())
    if kind == "command":  # a number the enum does not have
        number = draw(st.sampled_from([5, 6, 100, 2**31 - 1, 2**32, U64]))
        return f"command {number}", b"\x40" + varint(number)
    if kind == "version":
        version = draw(st.sampled_from([0, 1, 2, 7, 2**32]))
        command = draw(st.sampled_from([pb.MSync.UNREAD, pb.MSync.SYNC]))
        return f"version {version}", b"\x08" + varint(version) + encode_frame(command)
    if kind == "truncated":
        _, whole = draw(sync_payloads(login.app_key))
        return "truncated SYNC", whole[: draw(st.integers(0, max(len(whole) - 1, 0)))]
    if kind == "wire":  # the command field with the wrong wire type
        return "command as bytes", b"\x42\x01\x01"
    if kind == "nested":  # unknown groups inside one another, past the parser's limit
        depth = draw(st.sampled_from([50, 101, 5_000]))
        return f"{depth} nested groups", b"\x0b" * depth + b"\x0c" * depth
    if kind == "big":  # just under the frame limit
        return "big SYNC", encode_frame(pb.MSync.SYNC, b"\x12" + b"\x00" * (MAX_FRAME - 64))
    return "random bytes", draw(st.binary(max_size=200))


# -- WebSocket frames --------------------------------------------------------------------


@st.composite
def items(draw: st.DrawFn, login: Login, logged_in: bool) -> Item:
    """One step of a hostile client, with the outcome the gateway must give it."""
    kind = draw(
        st.sampled_from(
            ["binary"] * 6 + ["fragmented"] * 2 + ["ping", "pong", "text", "rsv", "unmasked"]
            + ["opcode", "continuation", "interrupted", "big ping", "split ping", "close"]
            + ["oversized", "lying length", "oversized fragments"]
        )
    )  # fmt: skip
    if kind in ("binary", "fragmented"):
        label, payload = draw(msync_payloads(login))
        closes = outcome(payload, logged_in)
        big = len(payload) > MAX_FRAME  # refused before it is read in full
        if big:
            closes = TOO_BIG
        if kind == "binary" or len(payload) < 2:
            return Item(label, frame(BINARY, payload), 1, closes, may_reset=big)
        cuts = sorted(
            draw(st.lists(st.integers(1, len(payload) - 1), min_size=1, max_size=3, unique=True))
        )
        parts = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
        data = frame(BINARY, parts[0], fin=False)
        pings: tuple[bytes, ...] = ()
        for i, part in enumerate(parts[1:], 1):
            if draw(st.integers(0, 3)) == 0:  # a control frame between fragments is allowed
                pings += (b"mid",)
                data += frame(PING, b"mid")
            data += frame(CONT, part, fin=i == len(parts) - 1)
        n = len(parts) + len(pings)
        label = f"{label} in {len(parts)} fragments"
        return Item(label, data, n, closes, may_reset=big, pings=pings)
    if kind == "ping":
        payload = draw(st.binary(max_size=125))
        return Item("ping", frame(PING, payload), 1, None, pings=(payload,))
    if kind == "pong":
        return Item("pong", frame(PONG, draw(st.binary(max_size=20))), 1, None)
    if kind == "text":
        return Item("text frame", frame(TEXT, draw(st.text(max_size=30)).encode()), 1, UNSUPPORTED)
    if kind == "rsv":
        rsv = draw(st.integers(1, 7))
        return Item(
            f"rsv {rsv}", frame(BINARY, encode_frame(pb.MSync.UNREAD), rsv=rsv), 1, PROTOCOL
        )
    if kind == "unmasked":
        return Item(
            "unmasked", frame(BINARY, encode_frame(pb.MSync.UNREAD), masked=False), 1, PROTOCOL
        )
    if kind == "opcode":
        opcode = draw(st.sampled_from([3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]))
        return Item(f"opcode {opcode:#x}", frame(opcode, b"x"), 1, PROTOCOL)
    if kind == "continuation":
        return Item("continuation first", frame(CONT, encode_frame(pb.MSync.UNREAD)), 1, PROTOCOL)
    if kind == "interrupted":  # a new message before the fragmented one ended
        data = frame(BINARY, b"\x40", fin=False) + frame(BINARY, encode_frame(pb.MSync.UNREAD))
        return Item("binary inside a fragmented message", data, 2, PROTOCOL)
    if kind == "big ping":
        return Item(
            "ping of 126+ bytes", frame(PING, b"p" * draw(st.integers(126, 300))), 1, PROTOCOL
        )
    if kind == "split ping":
        return Item("fragmented ping", frame(PING, b"p", fin=False), 1, PROTOCOL)
    if kind == "close":
        code = draw(st.sampled_from([1000, 1001, 1002, 1011, 3000, 4999, 999, 0, None]))
        payload = b"" if code is None else code.to_bytes(2, "big") + b"bye"
        echo = GOING_AWAY if code == GOING_AWAY else NORMAL
        return Item(f"close {code}", frame(CLOSE, payload), 1, echo)
    if kind == "oversized":
        data = frame(BINARY, b"\x00" * (MAX_FRAME + 1))
        return Item("frame over the limit", data, 1, TOO_BIG, may_reset=True)
    if kind == "lying length":  # a header announcing 2^40 bytes, and nothing after it
        return Item("length 2^40", frame(BINARY, b"", length=2**40), 1, TOO_BIG)
    half = b"\x00" * (MAX_FRAME // 2 + 1)
    data = frame(BINARY, half, fin=False) + frame(CONT, half)
    return Item("fragments over the limit", data, 2, TOO_BIG, may_reset=True)
