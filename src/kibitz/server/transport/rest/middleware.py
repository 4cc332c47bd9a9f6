"""The ASGI guard in front of REST: stamps the start time and caps the request body.

The cap counts the bytes actually received, not only ``Content-Length``, so a chunked or
lying client cannot stream more than ``max_body_bytes`` into a handler. Uploads (paths
matching ``upload_paths``) are streamed to storage by their route, which applies the app's
own file cap; here they get the ceiling ``max_upload_bytes`` instead.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AgoraCORSMiddleware", "BodyTooLarge", "RequestGuard", "elapsed_ms"]

STARTED_KEY: Final = "kibitz.started"


def elapsed_ms(scope: Any) -> int:
    """Milliseconds since the guard saw the request (Agora's ``duration``)."""
    started = scope.get(STARTED_KEY) if isinstance(scope, dict) else None
    if started is None:
        return 0
    return int((time.perf_counter() - started) * 1000)


class BodyTooLarge(Exception):
    """Raised from ``receive`` once the body passes the cap; the guard answers 413."""


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        now_ms: Callable[[], int],
        upload_paths: re.Pattern[str] | None = None,
        max_upload_bytes: int = 0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.now_ms = now_ms
        self.upload_paths = upload_paths
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[STARTED_KEY] = time.perf_counter()
        limit = self.max_body_bytes
        if self.upload_paths is not None and self.upload_paths.fullmatch(scope["path"]):
            limit = max(limit, self.max_upload_bytes)
        if self._declared_length(scope) > limit:
            await self._reject(scope, send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:  # too late to answer; the connection is dropped
                raise
            await self._reject(scope, send, limit)

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    async def _reject(self, scope: Scope, send: Send, limit: int) -> None:
        body = json.dumps(
            {
                "error": "request_entity_too_large",
                "exception": "kibitz.rest.RequestEntityTooLargeException",
                "timestamp": self.now_ms(),
                "duration": elapsed_ms(scope),
                "error_description": (f"The request body exceeds the limit of {limit} bytes."),
            },
            separators=(",", ":"),
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class AgoraCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, but a refused preflight answers with Agora's JSON error body (a
    client's error handling sees one shape for every failure) instead of plain text."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        now_ms: Callable[[], int],
        allow_origins: Sequence[str],
        allow_methods: Sequence[str],
        allow_headers: Sequence[str],
        expose_headers: Sequence[str],
        max_age: int,
    ) -> None:
        super().__init__(
            app,
            allow_origins=allow_origins,
            allow_methods=allow_methods,
            allow_headers=allow_headers,
            expose_headers=expose_headers,
            max_age=max_age,
        )
        self._now_ms = now_ms

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        reason = bytes(response.body).decode(errors="replace")
        body = {
            "error": "illegal_argument",
            "exception": "kibitz.rest.IllegalArgumentException",
            "timestamp": self._now_ms(),
            "duration": 0,
            "error_description": reason or "The CORS preflight was refused.",
        }
        headers = {k: v for k, v in response.headers.items() if k.lower().startswith("access-")}
        return JSONResponse(body, status_code=400, headers=headers)
