"""HTTP/1.1 on a bare socket: a hostile client must be able to send what no HTTP library
would (odd request targets, invalid bytes, oversized lines, broken framing), and read back
exactly what the server answered."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

__all__ = ["ERROR_KEYS", "RawRequest", "RawResponse", "error_body_problem", "exchange"]

ERROR_KEYS = ("error", "exception", "timestamp", "duration", "error_description")
TIMEOUT = 10.0


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names; the last value of a repeated header
    body: bytes

    def describe(self) -> str:
        return f"{self.status} {self.headers.get('content-type', '-')} {self.body[:300]!r}"


@dataclass
class RawRequest:
    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    chunked: bool = False
    version: bytes = b"HTTP/1.1"

    def encode(self) -> bytes:
        head = [self.method + b" " + self.target + b" " + self.version]
        head += [name + b": " + value for name, value in self.headers]
        if self.chunked:
            head.append(b"Transfer-Encoding: chunked")
            body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in _parts(self.body))
            body += b"0\r\n\r\n"
        else:
            if self.body or self.method in (b"POST", b"PUT", b"PATCH"):
                head.append(b"Content-Length: %d" % len(self.body))
            body = self.body
        head.append(b"Connection: close")
        return b"\r\n".join(head) + b"\r\n\r\n" + body

    def describe(self) -> str:
        headers = ", ".join(f"{n.decode(errors='replace')}: {_short(v)}" for n, v in self.headers)
        chunked = " (chunked)" if self.chunked else ""
        return (
            f"{self.method.decode(errors='replace')} {_short(self.target, 300)} "
            f"[{headers}] body{chunked}={_short(self.body, 300)}"
        )


def _short(value: bytes, keep: int = 80) -> str:
    text = repr(value[:keep])
    return text if len(value) <= keep else f"{text}…({len(value)} bytes)"


def _parts(body: bytes, size: int = 4096) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)] if body else []


def exchange(
    host: str,
    port: int,
    data: bytes,
    *,
    head: bool = False,
    half_close: bool = False,
    timeout: float = TIMEOUT,
) -> RawResponse | str:
    """Send ``data`` on a fresh connection and read one response; a string says why there is
    none ("closed", "reset", "timeout"). ``half_close`` ends our side after sending (for
    inputs that are not a whole request: the server then sees where they end)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413, 400) before it has read everything
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return "closed" if not buf else f"closed mid-head: {buf[:200]!r}"
                    buf += chunk
                raw_head, _, rest = buf.partition(b"\r\n\r\n")
                status, headers = _parse_head(raw_head)
                if 100 <= status < 200:
                    buf = rest  # an interim response; the real one follows
                    continue
                if head or status in (204, 304):
                    return RawResponse(status, headers, b"")
                return RawResponse(status, headers, _read_body(sock, headers, rest))
        except ConnectionResetError:
            return "reset"
        except TimeoutError:
            return "timeout"


def _parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    lines = raw.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise AssertionError(f"not an HTTP/1.x status line: {lines[0][:200]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        assert sep, f"malformed response header: {line[:200]!r}"
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return int(parts[1]), headers


def _read_body(sock: socket.socket, headers: dict[str, str], body: bytes) -> bytes:
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return body[:length]
    while chunk := sock.recv(65536):  # no length: the body ends with the connection
        body += chunk
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return _dechunk(body)
    return body


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


def error_body_problem(response: RawResponse) -> str | None:
    """What is wrong with an error response's body, if anything: Agora's error body is a
    JSON object with ``error``, ``exception``, ``timestamp``, ``duration`` and
    ``error_description`` (rest/errors.py)."""
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        return f"content-type {content_type!r}, not JSON"
    try:
        body: Any = json.loads(response.body)
    except ValueError:
        return "the body is not JSON"
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    missing = [k for k in ERROR_KEYS if k not in body]
    if missing:
        return f"the error body lacks {missing}"
    if not all(isinstance(body[k], str) for k in ("error", "exception", "error_description")):
        return "error/exception/error_description are not all strings"
    if not all(isinstance(body[k], int) for k in ("timestamp", "duration")):
        return "timestamp/duration are not integers"
    return None
