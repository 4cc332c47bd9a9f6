"""The HTTP protocol under REST: uvicorn's httptools protocol, answering what never reaches
the app (a request line or header it cannot parse) with Agora's JSON error body instead of
uvicorn's plain text, so a client's error handling sees one shape for every failure."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .errors import error_body

__all__ = ["http_protocol"]


class _AgoraHttpProtocol(HttpToolsProtocol):
    now_ms: Callable[[], int]  # bound by ``http_protocol``

    def send_400_response(self, msg: str) -> None:
        body = error_body(
            None,
            self.now_ms(),
            "illegal_argument",
            "The request could not be parsed as HTTP/1.1.",
            "kibitz.rest.IllegalArgumentException",
        )
        payload = json.dumps(body, separators=(",", ":")).encode()
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(payload)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                payload,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()


def http_protocol(now_ms: Callable[[], int]) -> type[Any]:
    """The protocol class for ``uvicorn.Config(http=...)``, on the app's clock."""
    return type("AgoraHttpProtocol", (_AgoraHttpProtocol,), {"now_ms": staticmethod(now_ms)})
