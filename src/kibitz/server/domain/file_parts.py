"""The Web SDK's chunked upload (agora-protocol-2.md §15.2): init, parts, complete, abort.

The SDK uses it for files above 1.5 × the part size it is told (``part_lower_limit``),
sending up to four parts at once. Nothing is kept in a node's memory, so any node may take
any step: *init* writes the file's row with the size ``PENDING`` (no one can read it); each
part is a blob of its own (``{app}/{uuid}-p{n}``); *complete* streams the parts, in order,
into the file's blob under the app's cap, as one upload, then deletes them and fills in the
row; *abort* deletes both. A row left pending is deleted with its parts by the retention
sweep.
"""

from __future__ import annotations

import secrets
import uuid as uuid_mod
from collections.abc import AsyncIterable, AsyncIterator, Callable

from kibitz.protocol import ChatError, ErrorCode

from .file_models import PENDING, FileRecord, UploadInfo, part_key
from .files import MAX_PARTS, FileService, is_file_id
from .models import App
from .ports import Clock

__all__ = ["FileParts"]


class FileParts:
    def __init__(self, files: FileService, clock: Clock) -> None:
        self._files = files
        self._clock = clock

    async def begin(self, app: App, owner: str) -> tuple[FileRecord, int]:
        """A new chunked upload: its pending row, and the largest file it may become."""
        record = FileRecord(
            uuid=str(uuid_mod.uuid4()),
            app_pk=app.id,
            owner=owner,
            size=PENDING,
            content_type="application/octet-stream",
            filename="",
            restricted=True,
            secret="",
            thumb_width=0,
            thumb_height=0,
            thumbnail="",
            created_ms=self._clock.now_ms(),
        )
        await self._files.meta.add(record)
        return record, await self._files.max_bytes(app)

    async def _pending(self, app: App, file_id: str, owner: str | None) -> FileRecord:
        """``owner`` None: the app itself, which may act on anyone's upload."""
        record = await self._files.meta.get(app.id, file_id) if is_file_id(file_id) else None
        if record is None or record.size != PENDING or (owner and owner != record.owner):
            raise ChatError(ErrorCode.FILE_NOT_FOUND, f"no chunked upload {file_id[:64]}")
        return record

    async def put(
        self,
        app: App,
        file_id: str,
        owner: str | None,
        chunks: AsyncIterable[bytes],
        number: Callable[[], str | None],
    ) -> int:
        """Store one part. Its ``number`` (1-based; sent again, a part replaces the first)
        is asked once the stream is read: the SDK's form sends it after the bytes, so the
        part is staged under a key of its own and moved to its place."""
        record = await self._pending(app, file_id, owner)
        staged = f"{app.id}/{record.uuid}-s{secrets.token_hex(8)}"
        size = await self._files.store_blob(staged, chunks, await self._files.max_bytes(app))
        raw = (number() or "").strip()
        n = int(raw) if raw.isdigit() and len(raw) < 4 else 0
        if not 1 <= n <= MAX_PARTS:
            await self._files.store.delete(staged)
            raise ChatError(ErrorCode.FILE_INVALID, f"part_number must be 1 to {MAX_PARTS}")
        await self._files.store.move(staged, part_key(app.id, record.uuid, n))
        return size

    async def complete(
        self,
        app: App,
        file_id: str,
        owner: str | None,
        describe: Callable[[], UploadInfo],
        *,
        restricted: bool,
    ) -> FileRecord:
        record = await self._pending(app, file_id, owner)
        store = self._files.store
        count = 0
        while count < MAX_PARTS and await store.exists(part_key(app.id, record.uuid, count + 1)):
            count += 1
        if count == 0:
            raise ChatError(ErrorCode.FILE_INVALID, "the upload has no parts")

        async def joined() -> AsyncIterator[bytes]:
            for number in range(1, count + 1):
                async for chunk in store.get(part_key(app.id, record.uuid, number)):
                    yield chunk

        done = await self._files.upload(
            app, record.owner, joined(), describe, restricted=restricted, pending=record
        )
        for number in range(1, MAX_PARTS + 1):
            await store.delete(part_key(app.id, record.uuid, number))
        return done

    async def abort(self, app: App, file_id: str, owner: str | None) -> None:
        record = await self._pending(app, file_id, owner)
        await self._files.delete(app, record.uuid)
