"""A lean msync session: one asyncio Protocol per WebSocket, no task per frame.

Incoming frames are handled synchronously in ``data_received``: a NOTICE triggers a
pre-encoded pull, a pull reply is scanned for bench markers with one regex over the raw
bytes (no ``MessageBody`` decoding) and acknowledged at once, a send ack is handed to the
``Sink``. What the generator does per message is what the SDK must do, nothing more.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import time
from typing import Final, Protocol, cast

from kibitz.protocol._msync import jid, pb

from .wire import (
    MARKER_RE,
    UNREAD_FRAME_PAYLOAD,
    SendTemplate,
    pull_frame,
    sync_ack_frame,
    ws_frame,
)

__all__ = ["LoginError", "Session", "Sink", "login_frame"]

_WS_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_HANDSHAKE: Final = 16 * 1024
_MAX_BUFFER: Final = 8 * 1024 * 1024
_CLOSE_FRAME: Final = bytes((0x88, 0x82, 0, 0, 0, 0)) + (1000).to_bytes(2, "big")
_UNREAD_FRAME: Final = ws_frame(UNREAD_FRAME_PAYLOAD)
_SYNC: Final = pb.MSync.SYNC
_NOTICE: Final = pb.MSync.NOTICE
_PROVISION: Final = pb.MSync.PROVISION


class LoginError(Exception):
    """The server refused or never answered the PROVISION."""


class Sink(Protocol):
    """Where a session reports what it saw (the worker's recorder)."""

    def received(self, session: Session, bodies: list[bytes]) -> None: ...

    def acked(self, session: Session, local_id: int, ok: bool, reason: str) -> None: ...

    def protocol_error(self, session: Session, what: str) -> None: ...

    def lost(self, session: Session) -> None: ...


def login_frame(app_key: str, name: str, token: str, resource: str) -> bytes:
    """The PROVISION the Web SDK sends (§5.4), with a ``$t$`` token."""
    auth = "$t$" + token
    prov = pb.Provision(
        os_type=pb.Provision.OS_OTHER,
        version="kibitz-bench",
        compress_type=[0],
        encrypt_type=[0],
        device_uuid=resource,
        device_name="webim",
        resource=resource,
        action_version="v5.1",
        auth_token=json.dumps({"token": auth}),
        session_id=f"{time.time_ns() // 1_000_000}:",
    )
    env = pb.MSync(
        command=pb.MSync.PROVISION,
        guid=jid(app_key, name, resource=resource),
        auth=auth,
        encrypt_type=[0],
        payload=prov.SerializeToString(),
    )
    return ws_frame(env.SerializeToString())


class Session(asyncio.Protocol):
    """One logged-in user. ``idx`` is the user's number in the run (the marker's stream)."""

    def __init__(self, idx: int, name: str, login: bytes, sink: Sink) -> None:
        self.idx = idx
        self.name = name
        self.sink = sink
        self.reply: SendTemplate | None = None  # echo: the template back to the partner
        self.last_rx = time.monotonic()
        self._login = login
        self._transport: asyncio.Transport | None = None
        self._key = base64.b64encode(os.urandom(16))
        self._request = b""
        self._handshake: bytearray | None = bytearray()
        self._buf = bytearray()
        self._fragments: list[bytes] = []
        self._logged_in: asyncio.Future[None] | None = None
        self._pulling: set[str] = set()
        self._dirty: set[str] = set()
        self._notices: dict[bytes, tuple[str, bytes]] = {}
        self._queues: dict[str, bytes] = {}
        self._closing = False

    # -- connecting ----------------------------------------------------------------------

    async def connect(self, host: str, port: int, path: str, limit_s: float) -> None:
        """TCP + WebSocket upgrade + PROVISION, all within ``limit_s``."""
        loop = asyncio.get_running_loop()
        self._logged_in = loop.create_future()
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {self._key.decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        try:
            async with asyncio.timeout(limit_s):
                await loop.create_connection(lambda: self, host, port)
                await self._logged_in
        except TimeoutError:
            self.close()
            raise LoginError("timeout") from None
        except OSError as exc:
            self.close()
            raise LoginError(type(exc).__name__) from exc
        except LoginError:
            self.close()
            raise

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but behave as one
        self._transport = cast(asyncio.Transport, transport)
        self._transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        fut = self._logged_in
        if fut is None:
            return
        if not fut.done():
            fut.set_exception(LoginError("connection closed"))
        elif not fut.cancelled() and fut.exception() is None and not self._closing:
            self.sink.lost(self)  # the server dropped a logged-in session

    @property
    def open(self) -> bool:
        return self._transport is not None

    def write(self, frame: bytes) -> bool:
        """Queue one frame; refuse (False) when the socket already holds too much."""
        t = self._transport
        if t is None or t.get_write_buffer_size() > _MAX_BUFFER:
            return False
        t.write(frame)
        return True

    def heartbeat(self) -> None:
        """UNREAD is the SDK's keep-alive (§5.10)."""
        self.write(_UNREAD_FRAME)

    def close(self) -> None:
        self._closing = True
        t = self._transport
        if t is not None:
            t.write(_CLOSE_FRAME)
            t.close()

    # -- reading -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.last_rx = time.monotonic()
        if self._handshake is not None:
            self._handshake += data
            end = self._handshake.find(b"\r\n\r\n")
            if end < 0:
                if len(self._handshake) > _MAX_HANDSHAKE:
                    self._fail_login("oversized handshake reply")
                return
            reply, rest = bytes(self._handshake[:end]), bytes(self._handshake[end + 4 :])
            self._handshake = None
            if not self._accepted(reply):
                self._fail_login("upgrade refused: " + reply.split(b"\r\n", 1)[0].decode("latin1"))
                return
            assert self._transport is not None
            self._transport.write(self._login)
            if not rest:
                return
            data = rest
        buf = self._buf
        buf += data
        pos, end = 0, len(buf)
        while end - pos >= 2:
            b0, length = buf[pos], buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if end - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if end - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if end - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            self._frame(b0, payload)
        if pos:
            del buf[:pos]

    def _accepted(self, head: bytes) -> bool:
        if not head.startswith(b"HTTP/1.1 101"):
            return False
        expected = base64.b64encode(hashlib.sha1(self._key + _WS_GUID).digest()).lower()
        return expected in head.lower()

    def _fail_login(self, reason: str) -> None:
        if self._logged_in is not None and not self._logged_in.done():
            self._logged_in.set_exception(LoginError(reason))
        if self._transport is not None:
            self._transport.close()

    def _frame(self, b0: int, payload: bytes) -> None:
        opcode = b0 & 0x0F
        if opcode == 0x2 or opcode == 0x0:
            if not b0 & 0x80:  # a fragment: keep it until the final one
                self._fragments.append(payload)
                return
            if self._fragments:
                payload = b"".join([*self._fragments, payload])
                self._fragments.clear()
            self._msync(payload)
        elif opcode == 0x9:
            self.write(ws_frame(payload, opcode=0xA))
        elif opcode == 0x8:
            self.close()
        elif opcode == 0x1:
            self.sink.protocol_error(self, "text frame")

    def _msync(self, data: bytes) -> None:
        env = pb.MSync()
        try:
            env.ParseFromString(data)
        except Exception:  # a broken frame is a finding, not a crash
            self.sink.protocol_error(self, "undecodable MSync")
            return
        command = env.command
        if command == _SYNC:
            self._sync(env.payload)
        elif command == _NOTICE:
            self._notice(env.payload)
        elif command == _PROVISION:
            self._provision(env.payload)

    def _provision(self, payload: bytes) -> None:
        reply = pb.Provision()
        reply.ParseFromString(payload)
        fut = self._logged_in
        if fut is None or fut.done():
            return
        if reply.status.error_code == pb.Status.OK:
            fut.set_result(None)
        else:
            code = pb.Status.ErrorCode.Name(reply.status.error_code)
            fut.set_exception(LoginError(f"{code}: {reply.status.reason}"))

    def _notice(self, payload: bytes) -> None:
        known = self._notices.get(payload)
        if known is None:
            notice = pb.CommNotice()
            notice.ParseFromString(payload)
            queue = notice.queue.SerializeToString()
            known = self._notices[payload] = (notice.queue.name, pull_frame(queue))
            self._queues[notice.queue.name] = queue
        name, frame = known
        if name in self._pulling:
            self._dirty.add(name)  # pull again once the current pull has drained
        else:
            self._pulling.add(name)
            self.write(frame)

    def _sync(self, payload: bytes) -> None:
        dl = pb.CommSyncDL()
        dl.ParseFromString(payload)
        if dl.HasField("meta_id"):
            status = dl.status
            self.sink.acked(self, dl.meta_id, status.error_code == pb.Status.OK, status.reason)
            return
        if not dl.HasField("queue"):
            self.sink.protocol_error(self, f"SYNC reply without queue: {dl.status.reason}")
            return
        name = dl.queue.name
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = dl.queue.SerializeToString()
        if len(dl.metas):
            self.sink.received(self, MARKER_RE.findall(payload))
            self.write(sync_ack_frame(queue, dl.next_key))
            return
        self._pulling.discard(name)
        if name in self._dirty:
            self._dirty.discard(name)
            self._pulling.add(name)
            self.write(pull_frame(queue))
