"""``FileStore`` on a local directory (the default: ``{data_dir}/files``).

A blob is written to a temporary file beside its final place and renamed over it once
complete (``os.replace``), so a reader never sees half a file and a failed upload leaves
only a temporary file that is removed at once. Keys are checked against the shape the
domain makes (``{app_pk}/{uuid}[.thumb[.png]]``): nothing a client names reaches a path.
With several nodes this directory must be a shared volume (or use the S3 store).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Final

import anyio
import anyio.to_thread

from kibitz.server.domain.file_models import BlobTooLarge

__all__ = ["LocalFileStore", "check_key"]

_KEY: Final = re.compile(r"[A-Za-z0-9-]{1,64}/[A-Za-z0-9-]{1,64}(\.thumb(\.png)?)?")
READ_CHUNK: Final = 256 * 1024


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError("not a file key")
    return key


class LocalFileStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        app, name = check_key(key).split("/")
        return self._root / app / name[:2] / name

    async def put(self, key: str, chunks: AsyncIterable[bytes], max_bytes: int) -> int:
        path = self._path(key)
        await anyio.to_thread.run_sync(lambda: path.parent.mkdir(parents=True, exist_ok=True))
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        size = 0
        try:
            async with await anyio.open_file(tmp, "xb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise BlobTooLarge
                    await out.write(chunk)
            await anyio.to_thread.run_sync(os.replace, tmp, path)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lambda: tmp.unlink(missing_ok=True))
            raise
        return size

    async def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        async with await anyio.open_file(path, "rb") as f:
            if start:
                await f.seek(start)
            left = None if end is None else max(0, end - start)
            while left is None or left > 0:
                want = READ_CHUNK if left is None else min(READ_CHUNK, left)
                chunk = await f.read(want)
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))

    async def exists(self, key: str) -> bool:
        path = self._path(key)
        return await anyio.to_thread.run_sync(path.is_file)

    async def move(self, src: str, dst: str) -> None:
        source, target = self._path(src), self._path(dst)

        def rename() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)

        await anyio.to_thread.run_sync(rename)

    async def aclose(self) -> None:
        return None
