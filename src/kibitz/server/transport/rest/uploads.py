"""A multipart upload read as a stream: the file part's bytes go straight to storage.

``MultipartUpload(request).file_chunks()`` feeds ``request.stream()`` through
python-multipart's push parser and yields the data of the one file part as it arrives, so
a 200 MB upload never sits in memory (one network chunk at a time). The small fields
around it (``thumbnail-width``…) are collected in ``fields``, whether they come before or
after the file. Anything wrong with the body — not multipart, no file, two files, a field
over 1 KiB, cut short — is raised *inside* the stream as ChatError FILE_INVALID, so the
store that reads it keeps nothing.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import AsyncIterator
from typing import Final

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from kibitz.protocol import ChatError, ErrorCode

from .middleware import BodyTooLarge

__all__ = ["MAX_UPLOAD_BYTES", "UPLOAD_PATHS", "MultipartUpload"]

MAX_FIELD_BYTES: Final = 1024
# The paths whose bodies are streamed to storage: the request guard lets them grow to the
# largest file an app may allow (200 MB, app_settings) plus the multipart framing; each
# route then holds the upload to its app's own cap.
UPLOAD_PATHS: Final = re.compile(
    r"/[^/]+/[^/]+/(chatfiles|chatgroups/[^/]+/share_files|sdk/chatfiles/part-upload(/[^/]+)?)"
)
MAX_UPLOAD_BYTES: Final = 200 * 1024 * 1024 + 1024 * 1024
_FILE_FIELDS: Final = ("file", "part_file")


def _invalid(why: str) -> ChatError:
    return ChatError(ErrorCode.FILE_INVALID, why)


class MultipartUpload:
    def __init__(self, request: Request, file_fields: tuple[str, ...] = _FILE_FIELDS) -> None:
        self._request = request
        self._file_fields = file_fields
        self.fields: dict[str, str] = {}
        self.filename = ""
        self.content_type = ""
        self.found = False
        self._ended = False
        self._in_file = False
        self._pending: list[bytes] = []
        self._field_name: str | None = None
        self._field_value = bytearray()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._error: ChatError | None = None
        ctype, options = parse_options_header(request.headers.get("content-type", ""))
        self._boundary = options.get(b"boundary") if ctype == b"multipart/form-data" else None

    @property
    def is_multipart(self) -> bool:
        return bool(self._boundary)

    # -- python-multipart callbacks ---------------------------------------------------------

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_name).decode("latin-1").lower()] = bytes(
            self._header_value
        )
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name in self._file_fields or b"filename" in options:
            if self.found:
                self._error = self._error or _invalid("only one file per upload")
                return
            self.found = self._in_file = True
            self.filename = options.get(b"filename", b"").decode("utf-8", "replace")
            self.content_type = self._headers.get("content-type", b"").decode("latin-1")
            return
        self._field_name = name
        self._field_value.clear()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending.append(data[start:end])
        elif self._field_name is not None:
            self._field_value += data[start:end]
            if len(self._field_value) > MAX_FIELD_BYTES:
                self._error = self._error or _invalid(f"field {self._field_name[:32]} too long")

    def _on_part_end(self) -> None:
        if self._in_file:
            self._in_file = False
        elif self._field_name is not None:
            self.fields[self._field_name] = self._field_value.decode("utf-8", "replace")
            self._field_name = None

    def _on_end(self) -> None:
        self._ended = True

    # -- the stream ---------------------------------------------------------------------------

    async def file_chunks(self) -> AsyncIterator[bytes]:
        if not self._boundary:
            raise _invalid("an upload is multipart/form-data with a file part")
        parser = MultipartParser(
            self._boundary,
            callbacks={
                "on_part_begin": self._on_part_begin,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_end": self._on_end,
            },
        )
        try:
            async for chunk in self._request.stream():
                if self._ended:
                    continue  # the epilogue after the closing boundary
                parser.write(chunk)
                if self._error is not None:
                    raise self._error
                if self._pending:
                    data = b"".join(self._pending)
                    self._pending.clear()
                    yield data
            parser.finalize()
        except MultipartParseError as exc:
            raise _invalid("the multipart body is malformed") from exc
        except ClientDisconnect as exc:
            raise _invalid("the upload was cut short") from exc
        except BodyTooLarge as exc:
            raise ChatError(ErrorCode.FILE_TOO_LARGE, "the upload is too large") from exc
        if not self._ended:
            raise _invalid("the upload was cut short")
        if not self.found:
            raise _invalid("the upload has no file part")

    def guessed_type(self) -> str:
        """The part's content type, or one guessed from the file name."""
        ctype = self.content_type.strip()
        if ctype and ctype.lower() != "application/octet-stream":
            return ctype
        guessed, _ = mimetypes.guess_type(self.filename, strict=False)
        return guessed or ctype or "application/octet-stream"
