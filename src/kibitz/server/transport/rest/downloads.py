"""Serving a stored file: byte ranges, content types and the headers a browser needs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Final
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse

from kibitz.protocol import ChatError, ErrorCode

__all__ = ["parse_range", "stream_response"]

_RANGE: Final = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``Range`` → ``[start, end)``; None to serve everything (no header, several ranges,
    or a unit we do not know, as RFC 9110 allows). Unsatisfiable → ValueError."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0:
            raise ValueError("empty suffix range")
        return max(0, size - n), size
    start = int(first)
    end = size if not last else min(int(last) + 1, size)
    if start >= size or end <= start:
        raise ValueError("range not satisfiable")
    return start, end


def _ascii(ch: str) -> str:
    return ch if (ch.isascii() and ch.isalnum()) or ch in "._-" else "_"


# Shown in place (an <img>, <audio>, <video>); anything else is a download, so an uploaded
# HTML page never renders on the API's origin (and the sandbox CSP below stops its scripts).
_INLINE: Final = ("image/", "audio/", "video/", "text/plain", "application/pdf")


def _disposition(filename: str, content_type: str) -> str:
    fallback = "".join(_ascii(ch) for ch in filename)
    how = "inline" if content_type.startswith(_INLINE) else "attachment"
    return f"{how}; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{quote(filename)}"


async def stream_response(
    chunks: AsyncIterator[bytes],
    *,
    size: int,
    content_type: str,
    filename: str,
    byte_range: tuple[int, int] | None,
) -> Response:
    """A 200 (or 206) whose body streams ``chunks``. The first chunk is read before the
    answer starts, so a blob missing from storage is a clean 404, not a cut-off body."""
    try:
        first = await anext(chunks, b"")
    except FileNotFoundError:
        raise ChatError(ErrorCode.FILE_NOT_FOUND, "the file's content is gone") from None
    except Exception as exc:
        raise ChatError(ErrorCode.GENERAL_ERROR, "reading the file failed") from exc

    async def body() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=86400",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Content-Disposition": _disposition(filename, content_type),
    }
    status = 200
    length = size
    if byte_range is not None:
        start, end = byte_range
        status, length = 206, end - start
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(length)
    return StreamingResponse(body(), status_code=status, headers=headers, media_type=content_type)
