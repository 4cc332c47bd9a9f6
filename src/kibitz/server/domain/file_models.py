"""Attachments' records and ports: what a file is to the domain, and what stores it.

Two ports, because bytes and rows live apart: a ``FileStore`` keeps blobs (a directory, an
S3 bucket) under keys the server makes (``{app_pk}/{uuid}``, never a client's file name),
and a ``FileMetaStore`` keeps one row per file in the database. The bytes are written first
and the row only once they are all stored, so a row always names a whole blob.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "PENDING",
    "BlobTooLarge",
    "FileMetaStore",
    "FileRecord",
    "FileStore",
    "Thumbnailer",
    "UploadInfo",
    "blob_key",
    "part_key",
    "thumbnail_key",
]

PENDING = -1  # the size of a chunked upload's row until it completes (file_parts.py)


class BlobTooLarge(Exception):
    """Raised by ``FileStore.put`` once the stream passes its cap (nothing is kept)."""


def blob_key(app_pk: str, uuid: str) -> str:
    """Where a file's bytes live: made of server-made ids only, so no client name can
    reach a path or an object key."""
    return f"{app_pk}/{uuid}"


def part_key(app_pk: str, uuid: str, number: int) -> str:
    """Where part ``number`` of a chunked upload waits until the upload completes."""
    return f"{app_pk}/{uuid}-p{number}"


def thumbnail_key(app_pk: str, uuid: str) -> str:
    return f"{app_pk}/{uuid}.thumb"


@dataclass(frozen=True, slots=True)
class UploadInfo:
    """What the client says of a file, known only once its stream has been read (a
    multipart part's headers, fields after the file)."""

    filename: str = ""
    content_type: str = ""
    thumb_width: int | None = None
    thumb_height: int | None = None


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One uploaded file. ``secret`` is the share secret a download presents when the file
    is ``restricted``; ``thumbnail`` the key of its cached thumbnail ("" until made);
    ``group_id`` is set for a group's shared file."""

    uuid: str
    app_pk: str
    owner: str
    size: int
    content_type: str
    filename: str
    restricted: bool
    secret: str
    thumb_width: int
    thumb_height: int
    thumbnail: str
    created_ms: int
    group_id: str | None = None

    @property
    def key(self) -> str:
        return blob_key(self.app_pk, self.uuid)


class FileStore(Protocol):
    """Blob storage. Every method may raise ``OSError`` (or the backend's own error) for a
    storage failure; ``put`` leaves nothing under ``key`` when it raises, whatever the
    cause (the cap, the client's stream, the storage)."""

    async def put(self, key: str, chunks: AsyncIterable[bytes], max_bytes: int) -> int:
        """Store the stream under ``key``; return its size. More than ``max_bytes``
        raises ``BlobTooLarge``."""
        ...

    def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``[start, end)`` of ``key`` (``end`` None: to the end), in chunks.
        An unknown key raises ``FileNotFoundError`` on the first iteration."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key``; an unknown key is no error."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def move(self, src: str, dst: str) -> None:
        """Rename ``src`` to ``dst`` (replacing it); ``FileNotFoundError`` if no ``src``."""
        ...

    async def aclose(self) -> None: ...


class FileMetaStore(Protocol):
    async def add(self, record: FileRecord) -> None: ...

    async def get(self, app_pk: str, uuid: str) -> FileRecord | None: ...

    async def set_thumbnail(self, app_pk: str, uuid: str, key: str) -> None: ...

    async def replace(self, record: FileRecord) -> bool:
        """Overwrite the row of ``record.uuid`` (a chunked upload completing)."""
        ...

    async def delete(self, app_pk: str, uuid: str) -> bool: ...

    async def created_before(self, app_pk: str, before_ms: int, limit: int) -> Sequence[FileRecord]:
        """An app's files created before ``before_ms``, oldest first, at most ``limit``."""
        ...

    async def of_group(
        self, app_pk: str, group_id: str, offset: int, limit: int
    ) -> Sequence[FileRecord]: ...

    async def app_pks(self) -> Sequence[str]:
        """The apps that have files (for the retention sweep)."""
        ...


class Thumbnailer(Protocol):
    """Makes a preview: a JPEG or PNG no larger than ``width``×``height``. Raises
    ``ValueError`` for content it cannot (or will not: a decompression bomb) read."""

    async def image(self, data: bytes, width: int, height: int) -> tuple[bytes, str]: ...

    async def video_frame(
        self, chunks: AsyncIterable[bytes], width: int, height: int
    ) -> tuple[bytes, str]:
        """The first frame of a video; ``LookupError`` when no video tool is installed."""
        ...
