"""``/chatfiles``: uploads streamed to the store under the app's cap, downloads with the
share secret, ranges and thumbnails; every FILE_* refusal driven by its real situation."""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from kibitz.server.domain.file_models import FileStore
from tests.conftest import AppHarness

from .support import FakeClock, assert_error, bearer, register, user_token

pytestmark = pytest.mark.anyio


def png(width: int = 640, height: int = 480, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width``×``height`` (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


async def upload(
    h: AppHarness,
    data: bytes,
    *,
    token: str | None = None,
    filename: str = "photo.png",
    content_type: str = "image/png",
    headers: dict[str, str] | None = None,
    fields: dict[str, str] | None = None,
) -> Any:
    auth = bearer(token) if token else h.admin_headers()
    return await h.http.post(
        f"{h.base}/chatfiles",
        files={"file": (filename, data, content_type)},
        data=fields or {},
        headers={**auth, **(headers or {})},
    )


async def test_upload_then_download_byte_identical(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice")
    token = await user_token(h, "alice")
    data = os.urandom(300_000)
    response = await upload(
        h, data, token=token, filename="notes.bin", content_type="application/octet-stream",
        headers={"restrict-access": "true"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    (entity,) = body["entities"]
    assert entity["type"] == "chatfile" and entity["share-secret"]
    assert entity["file-metadata"] == {
        "content-length": len(data),
        "content-type": "application/octet-stream",
    }
    assert body["path"] == "/chatfiles" and body["action"] == "post"
    url = f"{h.base}/chatfiles/{entity['uuid']}"
    got = await h.http.get(url, headers={"share-secret": entity["share-secret"]})
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-length"] == str(len(data))
    assert got.headers["accept-ranges"] == "bytes"
    # The SDKs' URL form: no Authorization, the secret in the query.
    q = await h.http.get(
        url, params={"em-redirect": "true", "share-secret": entity["share-secret"]}
    )
    assert q.status_code == 200 and q.content == data


async def test_restricted_files_need_their_secret(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice", "bob")
    alice, bob = await user_token(h, "alice"), await user_token(h, "bob")
    entity = (await upload(h, b"secret", token=alice, headers={"restrict-access": "true"})).json()[
        "entities"
    ][0]
    url = f"{h.base}/chatfiles/{entity['uuid']}"
    for headers in ({}, bearer(bob), {**bearer(bob), "share-secret": "wrong"}):
        body = assert_error(await h.http.get(url, headers=headers), 403, "forbidden_op")
        assert body["error_description"] == "chatfile no permission"  # the SDK's 222
    assert (await h.http.get(url, headers=h.admin_headers())).content == b"secret"
    # A bad token with no secret is the token's 401; with the secret the secret wins.
    assert_error(await h.http.get(url, headers=bearer("nonsense")), 401, "auth_bad_access_token")
    ok = await h.http.get(
        url, headers={**bearer("nonsense"), "share-secret": entity["share-secret"]}
    )
    assert ok.status_code == 200


async def test_unrestricted_files_open_to_any_credential_of_the_app(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice", "bob")
    alice, bob = await user_token(h, "alice"), await user_token(h, "bob")
    entity = (await upload(h, b"open", token=alice)).json()["entities"][0]
    url = f"{h.base}/chatfiles/{entity['uuid']}"
    assert (await h.http.get(url, headers=bearer(bob))).content == b"open"
    assert_error(await h.http.get(url), 403, "forbidden_op")


async def test_ranges(harness: AppHarness) -> None:
    h = harness
    data = bytes(range(256)) * 40
    entity = (await upload(h, data)).json()["entities"][0]
    url = f"{h.base}/chatfiles/{entity['uuid']}"
    auth = h.admin_headers()
    part = await h.http.get(url, headers={**auth, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = await h.http.get(url, headers={**auth, "Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    rest = await h.http.get(url, headers={**auth, "Range": "bytes=10000-"})
    assert rest.content == data[10000:]
    bad = await h.http.get(url, headers={**auth, "Range": "bytes=99999-"})
    assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{len(data)}"
    several = await h.http.get(url, headers={**auth, "Range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and several.content == data


async def test_too_large_is_413_and_keeps_nothing(harness: AppHarness) -> None:
    h = harness
    put = await h.http.put(
        f"{h.base}/settings", json={"file_max_bytes": 100_000}, headers=h.admin_headers()
    )
    assert put.status_code == 200, put.text
    body = assert_error(await upload(h, b"x" * 100_001), 413, "request_entity_too_large")
    assert body["error_description"] == "the file size exceeds the maximum limit."
    assert (await upload(h, b"x" * 100_000)).status_code == 200
    # A body without a Content-Length is held to the cap while it streams.

    async def chunked() -> AsyncIterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
        for _ in range(20):
            yield b"y" * 10_000
        yield b"\r\n--b--\r\n"

    response = await h.http.post(
        f"{h.base}/chatfiles",
        content=chunked(),
        headers={**h.admin_headers(), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert_error(response, 413, "request_entity_too_large")
    assert stored_blobs(h) == 1


def stored_blobs(h: AppHarness) -> int:
    root = Path(h.services.settings.data_dir) / "files"
    return len([p for p in root.rglob("*") if p.is_file()])


async def test_invalid_uploads_are_400(harness: AppHarness) -> None:
    h = harness
    auth = h.admin_headers()
    url = f"{h.base}/chatfiles"
    assert_error(await upload(h, b""), 400, "illegal_argument")  # empty
    assert_error(await h.http.post(url, json={"file": "x"}, headers=auth), 400, "illegal_argument")
    no_file = await h.http.post(url, data={"thumbnail-width": "100"}, files={}, headers=auth)
    assert_error(no_file, 400, "illegal_argument")
    truncated = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc'
    cut = await h.http.post(
        url, content=truncated, headers={**auth, "Content-Type": "multipart/form-data; boundary=b"}
    )
    assert_error(cut, 400, "illegal_argument")
    garbage = await h.http.post(
        url, content=b"garbage", headers={**auth, "Content-Type": "multipart/form-data; boundary=b"}
    )
    assert_error(garbage, 400, "illegal_argument")
    assert stored_blobs(h) == 0


async def test_uploads_need_a_credential_of_the_app(harness: AppHarness) -> None:
    h = harness
    response = await h.http.post(f"{h.base}/chatfiles", files={"file": ("a", b"a")})
    assert_error(response, 401, "unauthorized")


async def test_path_like_names_are_only_names(harness: AppHarness) -> None:
    h = harness
    for name in ("../../etc/passwd", "..\\..\\boot.ini", "/abs/x.png"):
        entity = (await upload(h, b"data", filename=name)).json()["entities"][0]
        got = await h.http.get(f"{h.base}/chatfiles/{entity['uuid']}", headers=h.admin_headers())
        assert got.status_code == 200
        disposition = got.headers["content-disposition"]
        assert ".." not in disposition.split("filename*")[0] and "/" not in disposition
    root = Path(h.services.settings.data_dir)
    assert not (root / "etc").exists() and stored_blobs(h) == 3


async def test_unknown_and_malformed_uuids_are_404(harness: AppHarness) -> None:
    h = harness
    auth = h.admin_headers()
    for file_id in ("6f1c9a52-2f7e-4a51-9a0e-6a4c2b1d9e01", "..%2F..%2Fetc", "x"):
        got = await h.http.get(f"{h.base}/chatfiles/{file_id}", headers=auth)
        assert_error(got, 404, "service_resource_not_found")


async def test_expired_files_are_file_expired_then_swept(harness_factory: Any) -> None:
    clock = FakeClock()
    h: AppHarness = await harness_factory(clock=clock)
    entity = (await upload(h, b"old")).json()["entities"][0]
    clock.advance(7 * 86_400 + 1)
    got = await h.http.get(f"{h.base}/chatfiles/{entity['uuid']}", headers=h.admin_headers())
    assert_error(got, 404, "file_expired")
    assert await h.services.files.sweep() == 1
    assert stored_blobs(h) == 0


class FailingStore:
    """The real store, failing once ``fail_after`` bytes went in (a disk or bucket dying
    mid-upload)."""

    def __init__(self, inner: FileStore, fail_after: int) -> None:
        self.inner = inner
        self.fail_after = fail_after

    async def put(self, key: str, chunks: AsyncIterable[bytes], max_bytes: int) -> int:
        async def failing() -> AsyncIterator[bytes]:
            seen = 0
            async for chunk in chunks:
                seen += len(chunk)
                if seen > self.fail_after:
                    raise OSError(28, "No space left on device")
                yield chunk

        return await self.inner.put(key, failing(), max_bytes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_storage_failure_is_upload_failed_and_keeps_nothing(harness: AppHarness) -> None:
    h = harness
    files = h.services.files
    files._store = FailingStore(files.store, fail_after=50_000)  # type: ignore[assignment]
    body = assert_error(await upload(h, os.urandom(200_000)), 500, "internal_server_error")
    assert "storing the file failed" in body["error_description"]
    assert stored_blobs(h) == 0


async def test_image_thumbnails_are_made_once_and_cached(harness: AppHarness) -> None:
    h = harness
    entity = (await upload(h, png(640, 480))).json()["entities"][0]
    url = f"{h.base}/chatfiles/{entity['uuid']}"
    auth = {**h.admin_headers(), "thumbnail": "true"}
    thumb = await h.http.get(url, headers=auth)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert image.size == (170, 128)  # within Agora's 170×170, aspect kept
    again = await h.http.get(
        url, params={"thumbnail": "true", "share-secret": entity["share-secret"]}
    )
    assert again.content == thumb.content
    record = await h.services.files.find(h.app, entity["uuid"])
    assert record.thumbnail.endswith(".thumb")


async def test_thumbnail_size_from_the_upload(harness: AppHarness) -> None:
    h = harness
    entity = (
        await upload(h, png(400, 400), fields={"thumbnail-width": "50", "thumbnail-height": "80"})
    ).json()["entities"][0]
    thumb = await h.http.get(
        f"{h.base}/chatfiles/{entity['uuid']}", headers={**h.admin_headers(), "thumbnail": "true"}
    )
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert image.size == (50, 50)


async def test_decompression_bombs_get_no_thumbnail(harness: AppHarness) -> None:
    h = harness
    bomb = png_claiming(100_000, 100_000)
    entity = (await upload(h, bomb)).json()["entities"][0]
    got = await h.http.get(
        f"{h.base}/chatfiles/{entity['uuid']}", headers={**h.admin_headers(), "thumbnail": "true"}
    )
    assert got.status_code == 200 and got.content == bomb  # the file itself, never decoded
    assert (await h.services.files.find(h.app, entity["uuid"])).thumbnail == ""


async def test_non_images_get_the_file_for_a_thumbnail(harness: AppHarness) -> None:
    h = harness
    entity = (await upload(h, b"%PDF-1.4", filename="a.pdf", content_type="")).json()["entities"][0]
    assert entity["file-metadata"]["content-type"] == "application/pdf"
    got = await h.http.get(
        f"{h.base}/chatfiles/{entity['uuid']}", headers={**h.admin_headers(), "thumbnail": "true"}
    )
    assert got.content == b"%PDF-1.4" and got.headers["content-type"] == "application/pdf"


async def test_html_is_a_download_never_a_page(harness: AppHarness) -> None:
    h = harness
    page = b"<script>alert(1)</script>"
    entity = (await upload(h, page, filename="x.html", content_type="text/html")).json()[
        "entities"
    ][0]
    got = await h.http.get(f"{h.base}/chatfiles/{entity['uuid']}", headers=h.admin_headers())
    assert got.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in got.headers["content-security-policy"]
    assert got.headers["x-content-type-options"] == "nosniff"
    image = (await upload(h, png(10, 10))).json()["entities"][0]
    shown = await h.http.get(f"{h.base}/chatfiles/{image['uuid']}", headers=h.admin_headers())
    assert shown.headers["content-disposition"].startswith("inline;")


async def test_a_video_poster_frame_through_ffmpeg(
    harness_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``?vframe=true`` (the Web SDK's video thumbnail URL): the first frame, made once by
    ffmpeg (a stand-in on PATH here) and cached."""
    tools = tmp_path / "bin"
    tools.mkdir()
    frame = tmp_path / "frame.png"
    Image.new("RGB", (320, 240), "black").save(frame)
    calls = tmp_path / "calls"
    fake = tools / "ffmpeg"
    fake.write_text(
        f'#!/bin/sh\necho run >> "{calls}"\nfor last; do :; done\ncp "{frame}" "$last"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:{os.environ.get('PATH', '')}")
    h: AppHarness = await harness_factory()
    entity = (
        await upload(h, os.urandom(5000), filename="clip.mp4", content_type="video/mp4")
    ).json()["entities"][0]
    url = f"{h.base}/chatfiles/{entity['uuid']}"
    query = {"vframe": "true", "share-secret": entity["share-secret"]}
    first = await h.http.get(url, params=query)
    second = await h.http.get(url, params=query)
    assert first.headers["content-type"] == "image/jpeg" and second.content == first.content
    assert calls.read_text().count("run") == 1
