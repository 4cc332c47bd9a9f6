"""A WebSocket client on a bare socket, for sending what no WebSocket library sends:
unmasked or reserved-bit frames, unknown opcodes, lying lengths, fragments interleaved with
pings, a thousand frames in one write. It reads the server's frames back one by one and
says how the connection ended."""

from __future__ import annotations

import base64
import os
import socket
import struct
from dataclasses import dataclass, field

__all__ = ["BINARY", "CLOSE", "CONT", "PING", "PONG", "TEXT", "Event", "RawSocket", "frame"]

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
TIMEOUT = 5.0


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    length: int | None = None,
) -> bytes:
    """One client frame. ``length`` overrides the length header (a lie about the payload)."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv & 0x7) << 4 | opcode])
    bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    body = (
        bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        if len(payload) < 512
        else _mask(payload, key)
    )
    return head + key + body


def _mask(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")


@dataclass
class Event:
    """What the server did next: a frame, or the end ("close" with its code, "eof" without a
    close frame, "reset", "timeout")."""

    kind: str
    opcode: int = 0
    payload: bytes = b""
    code: int | None = None
    problem: str = ""  # the frame broke the protocol (masked, fragmented, reserved bits)


@dataclass
class RawSocket:
    host: str
    port: int
    path: str = "/websocket"
    sock: socket.socket | None = None
    buf: bytearray = field(default_factory=bytearray)
    frames_sent: int = 0
    write_failed: bool = False

    def connect(self, timeout: float = TIMEOUT, rcvbuf: int | None = None) -> None:
        """TCP and the opening handshake; anything but ``101`` raises. ``rcvbuf``: a small
        receive window from the start (a consumer whose unread output backs up at once)."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((self.host, self.port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed during the handshake: {bytes(self.buf)!r}")
            self.buf += chunk
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"handshake refused: {head[:200]!r}")
        self.buf = bytearray(rest)

    def write(self, data: bytes, frames: int = 1) -> None:
        """Send raw bytes; a server that has already closed is not an error here (what it
        said before closing is still read by ``next``)."""
        assert self.sock is not None
        self.frames_sent += frames
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.write_failed = True

    def send(self, opcode: int, payload: bytes = b"", **kw: object) -> None:
        self.write(frame(opcode, payload, **kw))  # type: ignore[arg-type]

    def _fill(self, n: int) -> bool:
        assert self.sock is not None
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def next(self, timeout: float = TIMEOUT) -> Event:
        """The server's next frame, or how the connection ended."""
        assert self.sock is not None
        self.sock.settimeout(timeout)
        try:
            if not self._fill(2):
                return Event("eof")
            b0, b1 = self.buf[0], self.buf[1]
            n, at = b1 & 0x7F, 2
            if n == 126:
                if not self._fill(4):
                    return Event("eof")
                n, at = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                if not self._fill(10):
                    return Event("eof")
                n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
            if not self._fill(at + n):
                return Event("eof")
            payload = bytes(self.buf[at : at + n])
            del self.buf[: at + n]
        except ConnectionResetError:
            return Event("reset")
        except TimeoutError:
            return Event("timeout")
        problem = ""
        if b1 & 0x80:
            problem = "a masked server frame"
        elif b0 & 0x70:
            problem = "reserved bits set"
        elif not b0 & 0x80:
            problem = "a fragmented server frame"
        opcode = b0 & 0x0F
        if opcode == CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            return Event("close", opcode, payload, code, problem)
        return Event("frame", opcode, payload, problem=problem)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
