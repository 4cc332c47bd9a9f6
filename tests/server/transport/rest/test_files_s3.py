"""``/chatfiles`` on the S3 store (a real S3 API: moto's server on loopback)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.conftest import AppHarness
from tests.s3_support import s3_env, s3_server

from .support import assert_error
from .test_files import png

__all__ = ["s3_env", "s3_server"]

pytestmark = pytest.mark.anyio


@pytest.fixture
async def s3_harness(harness_factory: Any, s3_env: str) -> AppHarness:
    h: AppHarness = await harness_factory(file_store=s3_env)
    put = await h.http.put(
        f"{h.base}/settings", json={"file_max_bytes": 20 * 1024 * 1024}, headers=h.admin_headers()
    )
    assert put.status_code == 200, put.text
    return h


async def test_a_large_file_round_trips_through_s3(s3_harness: AppHarness) -> None:
    h = s3_harness
    data = os.urandom(12 * 1024 * 1024 + 5)  # a multipart upload of two parts
    response = await h.http.post(
        f"{h.base}/chatfiles",
        files={"file": ("big.bin", data, "application/octet-stream")},
        headers={**h.admin_headers(), "restrict-access": "true"},
    )
    assert response.status_code == 200, response.text
    entity = response.json()["entities"][0]
    url = f"{h.base}/chatfiles/{entity['uuid']}"
    got = await h.http.get(url, params={"share-secret": entity["share-secret"]})
    assert got.status_code == 200 and got.content == data
    part = await h.http.get(
        url, headers={"share-secret": entity["share-secret"], "Range": "bytes=9000000-9000099"}
    )
    assert part.status_code == 206 and part.content == data[9_000_000:9_000_100]
    assert_error(await h.http.get(url), 403, "forbidden_op")


async def test_too_large_on_s3_keeps_nothing(s3_harness: AppHarness) -> None:
    h = s3_harness
    response = await h.http.post(
        f"{h.base}/chatfiles",
        files={"file": ("big.bin", b"z" * (20 * 1024 * 1024 + 1), "application/octet-stream")},
        headers=h.admin_headers(),
    )
    assert_error(response, 413, "request_entity_too_large")
    store: Any = h.services.files.store
    listed = store._client.list_objects_v2(Bucket=store._bucket)
    assert listed.get("KeyCount", 0) == 0
    uploads = store._client.list_multipart_uploads(Bucket=store._bucket)
    assert not uploads.get("Uploads")


async def test_thumbnails_on_s3(s3_harness: AppHarness) -> None:
    h = s3_harness
    response = await h.http.post(
        f"{h.base}/chatfiles",
        files={"file": ("p.png", png(300, 300), "image/png")},
        headers=h.admin_headers(),
    )
    entity = response.json()["entities"][0]
    thumb = await h.http.get(
        f"{h.base}/chatfiles/{entity['uuid']}",
        headers={**h.admin_headers(), "thumbnail": "true"},
    )
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert len(thumb.content) < 10_000
