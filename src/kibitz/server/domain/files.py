"""Attachments: upload, download, thumbnails and retention, over the two file ports.

The rules, after Agora (agora-rest.md §3.2, agora-protocol-2.md §15):

- An upload is streamed to the ``FileStore`` under a server-made key with the app's cap
  (``file_max_bytes``): more is FILE_TOO_LARGE, nothing is FILE_INVALID, a storage failure
  FILE_UPLOAD_FAILED; in each case nothing is kept. The row is written last.
- Every file gets a share secret. A *restricted* file (``restrict-access: true``, what the
  SDKs send) is read only with its secret (or by the app itself); an unrestricted one by
  any credential of the app, or the secret. The secret alone suffices, by design: the SDKs
  put ``?share-secret=…`` into ``<img>`` URLs, which carry no Authorization header.
- A file is kept ``file_retention_days`` (Agora: 7); past that it reads as expired and the
  sweep (``sweep``, ``kibitz files gc``) deletes it, a bounded batch at a time.
- An image's thumbnail is made on first request and cached beside the file.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid as uuid_mod
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import replace
from typing import Final

from kibitz.protocol import ChatError, ErrorCode

from .app_settings import AppSettingsService
from .file_models import (
    PENDING,
    BlobTooLarge,
    FileMetaStore,
    FileRecord,
    FileStore,
    Thumbnailer,
    UploadInfo,
    blob_key,
    part_key,
    thumbnail_key,
)
from .models import App
from .ports import Clock

__all__ = [
    "DEFAULT_THUMBNAIL",
    "EXPIRED",
    "MAX_PARTS",
    "NO_PERMISSION",
    "PART_BYTES",
    "TOO_LARGE",
    "FileService",
    "is_file_id",
]

log = logging.getLogger(__name__)

_DAY_MS: Final = 86_400_000
DEFAULT_THUMBNAIL: Final = 170  # Agora's default thumbnail box, both sides
MAX_THUMBNAIL: Final = 1_024
# An image is read whole to make its thumbnail: bigger sources get none (the original is
# served instead), whatever the app's file cap.
MAX_THUMBNAIL_SOURCE: Final = 32 * 1024 * 1024
# A chunked upload's parts: at least PART_BYTES each (but the last), so a 200 MB file has 40.
PART_BYTES: Final = 5 * 1024 * 1024
MAX_PARTS: Final = 64
TOO_LARGE: Final = "the file size exceeds the maximum limit."
NO_PERMISSION: Final = "chatfile no permission"  # the SDK's 222 reads exactly this
EXPIRED: Final = "file_expired"
_CONTENT_TYPE_MAX: Final = 128
_FILENAME_MAX: Final = 256


def _clean_filename(name: str) -> str:
    """The name shown to users; never a path (only its last part, no control chars)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:_FILENAME_MAX]


def _clean_content_type(value: str) -> str:
    value = value.strip().lower()
    main, _, sub = value.partition(";")[0].strip().partition("/")
    token = all(ch.isalnum() or ch in "-+.!#$&^_" for ch in main + sub)
    if not main or not sub or not token or len(value) > _CONTENT_TYPE_MAX:
        return "application/octet-stream"
    return f"{main}/{sub}"


def _thumb_side(value: int | None) -> int:
    if value is None or value <= 0:
        return DEFAULT_THUMBNAIL
    return min(value, MAX_THUMBNAIL)


class FileService:
    def __init__(
        self,
        store: FileStore,
        meta: FileMetaStore,
        settings: AppSettingsService,
        clock: Clock,
        thumbnailer: Thumbnailer | None = None,
    ) -> None:
        self._store = store
        self._meta = meta
        self._settings = settings
        self._clock = clock
        self._thumbnailer = thumbnailer

    @property
    def store(self) -> FileStore:
        return self._store

    @property
    def meta(self) -> FileMetaStore:
        return self._meta

    async def store_blob(self, key: str, chunks: AsyncIterable[bytes], cap: int) -> int:
        """``FileStore.put`` with its failures as the SDK's codes (nothing kept)."""
        try:
            return await self._store.put(key, chunks, cap)
        except BlobTooLarge:
            raise ChatError(ErrorCode.FILE_TOO_LARGE, TOO_LARGE) from None
        except ChatError:
            raise  # the transport's verdict on the stream (FILE_INVALID: cut short)
        except Exception as exc:
            log.warning("file upload failed: %s", type(exc).__name__, exc_info=exc)
            raise ChatError(ErrorCode.FILE_UPLOAD_FAILED, "storing the file failed") from exc

    async def max_bytes(self, app: App) -> int:
        return (await self._settings.get(app.id)).file_max_bytes

    async def upload(
        self,
        app: App,
        owner: str,
        chunks: AsyncIterable[bytes],
        describe: Callable[[], UploadInfo] = UploadInfo,
        *,
        restricted: bool = True,
        group_id: str | None = None,
        max_bytes: int | None = None,
        pending: FileRecord | None = None,
    ) -> FileRecord:
        """Store one file (or fill in the ``pending`` row of a chunked upload); raises
        ChatError FILE_TOO_LARGE, FILE_INVALID or FILE_UPLOAD_FAILED, having kept nothing.
        ``describe`` is asked once the stream is read; ``max_bytes`` lowers the app's cap
        (a group's shared files: 10 MB)."""
        cap = await self.max_bytes(app)
        if max_bytes is not None:
            cap = min(cap, max_bytes)
        file_id = pending.uuid if pending is not None else str(uuid_mod.uuid4())
        key = blob_key(app.id, file_id)
        size = await self.store_blob(key, chunks, cap)
        if size == 0:
            await self._forget_blob(key)
            raise ChatError(ErrorCode.FILE_INVALID, "the file is empty")
        info = describe()
        record = FileRecord(
            uuid=file_id,
            app_pk=app.id,
            owner=owner,
            size=size,
            content_type=_clean_content_type(info.content_type),
            filename=_clean_filename(info.filename),
            restricted=restricted,
            secret=secrets.token_urlsafe(24),
            thumb_width=_thumb_side(info.thumb_width),
            thumb_height=_thumb_side(info.thumb_height),
            thumbnail="",
            created_ms=self._clock.now_ms(),
            group_id=group_id,
        )
        try:
            if pending is None:
                await self._meta.add(record)
            elif not await self._meta.replace(record):
                raise LookupError("the chunked upload was aborted meanwhile")
        except Exception as exc:
            await self._forget_blob(key)
            log.warning("file row not written: %s", type(exc).__name__, exc_info=exc)
            raise ChatError(ErrorCode.FILE_UPLOAD_FAILED, "storing the file failed") from exc
        return record

    async def _forget_blob(self, key: str) -> None:
        try:
            await self._store.delete(key)
        except Exception as exc:  # the sweep cannot see a blob without a row: say so
            log.error("orphan blob %s left: %s", key, type(exc).__name__)

    async def find(self, app: App, file_id: str) -> FileRecord:
        """The file's row; unknown → FILE_NOT_FOUND, past retention → FILE_NOT_FOUND with
        the description ``file_expired`` (REST answers 404 file_expired)."""
        record = await self._meta.get(app.id, file_id) if is_file_id(file_id) else None
        if record is None or record.size == PENDING:
            raise ChatError(ErrorCode.FILE_NOT_FOUND, f"file {file_id[:64]} not found")
        days = (await self._settings.get(app.id)).file_retention_days
        if record.created_ms + days * _DAY_MS <= self._clock.now_ms():
            raise ChatError(ErrorCode.FILE_NOT_FOUND, EXPIRED)
        return record

    async def authorize(
        self, app: App, file_id: str, *, secret: str | None, is_app: bool, has_credential: bool
    ) -> FileRecord:
        """The file a download may read, or FILE_DOWNLOAD_FAILED (``chatfile no
        permission``). The secret alone opens any file; the app's credential opens any;
        a user's credential opens only unrestricted files."""
        record = await self.find(app, file_id)
        if secret is not None and secrets.compare_digest(secret.encode(), record.secret.encode()):
            return record
        if is_app or (has_credential and not record.restricted):
            return record
        raise ChatError(ErrorCode.FILE_DOWNLOAD_FAILED, NO_PERMISSION)

    def read(
        self, record: FileRecord, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        return self._store.get(record.key, start, end)

    async def thumbnail(self, record: FileRecord) -> tuple[FileRecord, str | None]:
        """The record whose ``thumbnail`` key to serve and its content type, or None (serve
        the file itself: not an image, too big, unreadable, no thumbnailer)."""
        if self._thumbnailer is None:
            return record, None
        is_image = record.content_type.startswith("image/")
        is_video = record.content_type.startswith("video/")
        if record.thumbnail:
            return record, "image/png" if record.thumbnail.endswith(".png") else "image/jpeg"
        if not (is_image or is_video) or (is_image and record.size > MAX_THUMBNAIL_SOURCE):
            return record, None
        try:
            if is_image:
                data = b"".join([chunk async for chunk in self.read(record)])
                thumb, kind = await self._thumbnailer.image(
                    data, record.thumb_width, record.thumb_height
                )
            else:
                thumb, kind = await self._thumbnailer.video_frame(
                    self.read(record), record.thumb_width, record.thumb_height
                )
        except LookupError as exc:
            log.info("no video thumbnail for %s: %s", record.uuid, exc)
            return record, None
        except ValueError as exc:
            log.info("no thumbnail for %s: %s", record.uuid, exc)
            return record, None
        key = thumbnail_key(record.app_pk, record.uuid) + (".png" if kind == "image/png" else "")

        async def once() -> AsyncIterator[bytes]:
            yield thumb

        await self._store.put(key, once(), len(thumb))
        await self._meta.set_thumbnail(record.app_pk, record.uuid, key)
        return replace(record, thumbnail=key), kind

    def read_thumbnail(self, record: FileRecord) -> AsyncIterator[bytes]:
        return self._store.get(record.thumbnail)

    async def delete(self, app: App, file_id: str) -> None:
        """Delete a file's row and bytes; FILE_NOT_FOUND if unknown, FILE_DELETE_FAILED
        when storage refuses (the row stays, so it can be tried again)."""
        record = await self._meta.get(app.id, file_id) if is_file_id(file_id) else None
        if record is None:
            raise ChatError(ErrorCode.FILE_NOT_FOUND, f"file {file_id[:64]} not found")
        await self._delete(record)

    async def _delete(self, record: FileRecord) -> None:
        try:
            if record.size == PENDING:  # a chunked upload never completed: its parts
                for number in range(1, MAX_PARTS + 1):
                    await self._store.delete(part_key(record.app_pk, record.uuid, number))
            if record.thumbnail:
                await self._store.delete(record.thumbnail)
            await self._store.delete(record.key)
        except Exception as exc:
            log.warning("file delete failed: %s", type(exc).__name__, exc_info=exc)
            raise ChatError(ErrorCode.FILE_DELETE_FAILED, "deleting the file failed") from exc
        await self._meta.delete(record.app_pk, record.uuid)

    async def sweep(self, batch: int = 500, max_batches: int = 100) -> int:
        """Delete files past their app's retention, at most ``batch × max_batches`` per
        call (a bounded pass; the periodic task calls it again). Returns how many."""
        removed = 0
        now = self._clock.now_ms()
        for app_pk in await self._meta.app_pks():
            days = (await self._settings.get(app_pk)).file_retention_days
            for _ in range(max_batches):
                old = await self._meta.created_before(app_pk, now - days * _DAY_MS, batch)
                for record in old:
                    try:
                        await self._delete(record)
                        removed += 1
                    except ChatError:
                        continue
                if len(old) < batch:
                    break
        return removed

    async def sweep_forever(self, interval_s: float) -> None:
        """The retention task: a bounded sweep every ``interval_s``, until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                removed = await self.sweep()
            except Exception as exc:  # the store or database is down: try again next time
                log.warning("file retention sweep failed: %s", type(exc).__name__)
                continue
            if removed:
                log.info("file retention sweep removed %d files", removed)

    async def forget_app(self, app_pk: str, batch: int = 500) -> int:
        """Delete an app's blobs (its rows go with the app by cascade): called before the
        app's rows are deleted. Returns how many files."""
        removed = 0
        while True:
            records = await self._meta.created_before(app_pk, 2**62, batch)
            failed = 0
            for record in records:
                try:
                    await self._delete(record)
                    removed += 1
                except ChatError:
                    failed += 1
            if len(records) < batch or failed == len(records):
                return removed

    async def of_group(self, app: App, group_id: str, offset: int, limit: int) -> list[FileRecord]:
        return list(await self._meta.of_group(app.id, group_id, offset, limit))


def is_file_id(value: str) -> bool:
    """A file id as the server makes them (a canonical uuid): anything else is unknown."""
    try:
        return str(uuid_mod.UUID(value)) == value
    except ValueError:
        return False
