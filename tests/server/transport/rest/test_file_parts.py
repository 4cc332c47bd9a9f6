"""The Web SDK's chunked upload (``/sdk/chatfiles/part-upload``): init, parts in any
order, complete (answered as a single upload), abort; nothing of an aborted upload kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import AppHarness

from .support import assert_error, bearer, register, user_token

pytestmark = pytest.mark.anyio

MB = 1024 * 1024


def blobs(h: AppHarness) -> list[Path]:
    root = Path(h.services.settings.data_dir) / "files"
    return [p for p in root.rglob("*") if p.is_file()]


async def begin(h: AppHarness, token: str) -> dict[str, int | str]:
    response = await h.http.post(f"{h.base}/sdk/chatfiles/part-upload", headers=bearer(token))
    assert response.status_code == 200, response.text
    entity: dict[str, int | str] = response.json()["entities"][0]
    return entity


async def put_part(h: AppHarness, token: str, file_id: str, number: int, data: bytes) -> int:
    response = await h.http.put(
        f"{h.base}/sdk/chatfiles/part-upload/{file_id}",
        files={"part_file": ("blob", data, "application/octet-stream")},
        data={"part_number": str(number)},
        headers={**bearer(token), "restrict-access": "true"},
    )
    return response.status_code


async def test_parts_in_any_order_complete_into_one_file(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice")
    token = await user_token(h, "alice")
    init = await begin(h, token)
    assert init["file_upper_limit"] == 10 * MB and init["part_lower_limit"] == 5 * MB
    file_id = str(init["uuid"])
    data = os.urandom(9 * MB + 1234)  # under the app's 10 MB
    parts = [data[i : i + 4 * MB] for i in range(0, len(data), 4 * MB)]
    for number in (3, 1, 2):
        assert await put_part(h, token, file_id, number, parts[number - 1]) == 200
    # Not readable before it completes.
    pending = await h.http.get(f"{h.base}/chatfiles/{file_id}", headers=h.admin_headers())
    assert_error(pending, 404, "service_resource_not_found")
    done = await h.http.post(
        f"{h.base}/sdk/chatfiles/part-upload/{file_id}",
        params={"restrict-access": "true", "chat-type": "chat", "chat-target": "bob"},
        headers=bearer(token),
    )
    assert done.status_code == 200, done.text
    entity = done.json()["entities"][0]
    assert entity["uuid"] == file_id and entity["share-secret"]
    assert entity["file-metadata"]["content-length"] == len(data)
    got = await h.http.get(
        f"{h.base}/chatfiles/{file_id}", params={"share-secret": entity["share-secret"]}
    )
    assert got.content == data
    assert len(blobs(h)) == 1  # the parts are gone


async def test_abort_keeps_nothing(harness: AppHarness) -> None:
    h = harness
    await register(h, "alice", "bob")
    alice, bob = await user_token(h, "alice"), await user_token(h, "bob")
    file_id = str((await begin(h, alice))["uuid"])
    assert await put_part(h, alice, file_id, 1, b"a" * 1000) == 200
    assert await put_part(h, bob, file_id, 2, b"b") == 404  # not bob's upload
    aborted = await h.http.delete(
        f"{h.base}/sdk/chatfiles/part-upload/{file_id}", headers=bearer(alice)
    )
    assert aborted.status_code == 200, aborted.text
    assert blobs(h) == []
    assert await put_part(h, alice, file_id, 1, b"a") == 404


async def test_bad_parts(harness: AppHarness) -> None:
    h = harness
    token = h.app_token()
    file_id = str((await begin(h, token))["uuid"])
    assert await put_part(h, token, file_id, 0, b"x") == 400
    assert await put_part(h, token, file_id, 65, b"x") == 400
    assert await put_part(h, token, "6f1c9a52-2f7e-4a51-9a0e-6a4c2b1d9e01", 1, b"x") == 404
    done = await h.http.post(f"{h.base}/sdk/chatfiles/part-upload/{file_id}", headers=bearer(token))
    assert_error(done, 400, "illegal_argument")  # no parts
    assert blobs(h) == []


async def test_the_whole_is_held_to_the_cap(harness: AppHarness) -> None:
    h = harness
    token = h.app_token()
    file_id = str((await begin(h, token))["uuid"])
    for number in (1, 2, 3):
        assert await put_part(h, token, file_id, number, b"z" * (4 * MB)) == 200
    done = await h.http.post(f"{h.base}/sdk/chatfiles/part-upload/{file_id}", headers=bearer(token))
    assert_error(done, 413, "request_entity_too_large")
    assert len(blobs(h)) == 3  # the parts wait for an abort (or the sweep)
