"""The ``FileStore`` contract, run against every backend: the local directory and S3 (a
real S3 API, moto's server on loopback)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest

from kibitz.server.domain.file_models import BlobTooLarge, FileStore
from kibitz.server.files.local import LocalFileStore
from kibitz.server.files.s3 import S3FileStore, parse_s3_url

pytestmark = pytest.mark.anyio

KEY = "0b6d2a3e-app/6f1c9a52-2f7e-4a51-9a0e-6a4c2b1d9e01"
MB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FileStore]:
    if request.param == "local":
        yield LocalFileStore(tmp_path / "files")
        return
    url = request.getfixturevalue("s3_env")
    bucket, prefix = parse_s3_url(url)
    s3 = S3FileStore(bucket, prefix, part_bytes=5 * MB)
    try:
        yield s3
    finally:
        await s3.aclose()


async def stream(parts: Iterable[bytes], fail_after: int | None = None) -> AsyncIterator[bytes]:
    for n, part in enumerate(parts):
        if fail_after is not None and n == fail_after:
            raise ConnectionResetError("the client went away")
        yield part


async def read(store: FileStore, key: str, *args: Any) -> bytes:
    return b"".join([chunk async for chunk in store.get(key, *args)])


async def test_put_then_get_whole_and_ranges(store: FileStore) -> None:
    data = os.urandom(300_000)
    size = await store.put(KEY, stream([data[:1000], data[1000:]]), 10 * MB)
    assert size == len(data)
    assert await store.exists(KEY)
    assert await read(store, KEY) == data
    assert await read(store, KEY, 10, 20) == data[10:20]
    assert await read(store, KEY, 299_990) == data[299_990:]
    assert await read(store, KEY, 5, 5) == b""


async def test_large_blob_in_parts(store: FileStore) -> None:
    data = os.urandom(12 * MB + 7)  # more than two S3 parts
    chunks = (data[i : i + 64 * 1024] for i in range(0, len(data), 64 * 1024))
    assert await store.put(KEY, stream(chunks), 20 * MB) == len(data)
    assert await read(store, KEY) == data
    assert await read(store, KEY, 6 * MB, 6 * MB + 3) == data[6 * MB : 6 * MB + 3]


async def test_over_the_cap_keeps_nothing(store: FileStore) -> None:
    chunks = [b"x" * MB] * 7
    with pytest.raises(BlobTooLarge):
        await store.put(KEY, stream(chunks), 6 * MB)
    assert not await store.exists(KEY)


async def test_a_stream_that_fails_keeps_nothing(store: FileStore) -> None:
    chunks = [b"y" * MB] * 12
    with pytest.raises(ConnectionResetError):
        await store.put(KEY, stream(chunks, fail_after=11), 100 * MB)
    assert not await store.exists(KEY)


async def test_delete_and_unknown_keys(store: FileStore) -> None:
    await store.put(KEY, stream([b"abc"]), 10)
    await store.delete(KEY)
    assert not await store.exists(KEY)
    await store.delete(KEY)  # twice: no error
    with pytest.raises(FileNotFoundError):
        await read(store, KEY)


@pytest.mark.parametrize("key", ["../etc/passwd", "a/../../b", "/abs/path", "a/b/c", "a/.b", ""])
async def test_keys_are_never_paths(store: FileStore, key: str) -> None:
    with pytest.raises(ValueError):
        await store.put(key, stream([b"z"]), 10)


async def test_local_store_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "files")
    with pytest.raises(BlobTooLarge):
        await store.put(KEY, stream([b"x" * 100]), 10)
    with pytest.raises(ConnectionResetError):
        await store.put(KEY, stream([b"x", b"y"], fail_after=1), 10)
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []


def test_s3_urls() -> None:
    assert parse_s3_url("s3://bucket/some/prefix/") == ("bucket", "some/prefix/")
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    with pytest.raises(ValueError):
        parse_s3_url("https://bucket/x")


async def test_move_renames(store: FileStore) -> None:
    other = KEY + "-p1"
    await store.put(KEY, stream([b"part"]), 10)
    await store.move(KEY, other)
    assert not await store.exists(KEY)
    assert await read(store, other) == b"part"
    with pytest.raises(FileNotFoundError):
        await store.move(KEY, other)
