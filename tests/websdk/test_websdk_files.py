"""Attachments through the official Web SDK, both pinned versions (scenarios/files.js).

The SDK uploads image and file messages itself (one request; the chunked upload for a
file above 7.5 MiB), the receiver gets an absolute URL and the share secret, downloads the
bytes identical with the SDK's own ``download`` and the image's thumbnail; a wrong secret
is the SDK's 222. One server for the module (the ``lane`` fixture of test_websdk.py).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.websdk.test_websdk import CHAT_APP, SDKS, Lane, lane, node_ready  # noqa: F401

pytestmark = pytest.mark.websdk

CASES = ["image", "file", "large_file", "group_image", "group_shared_file", "wrong_secret"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    where = tmp_path_factory.mktemp("websdk-files")
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 90)).save(out, "PNG")
    made: dict[str, Any] = {
        "png": ("photo.png", out.getvalue()),
        "bin": ("notes.bin", os.urandom(300_000)),
        "large": ("video.raw", os.urandom(8 * 1024 * 1024 + 123)),
    }
    paths = {}
    for key, (name, data) in made.items():
        path = Path(where / name)
        path.write_bytes(data)
        paths[key] = str(path)
    return paths


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("case", CASES)
def test_files(lane: Lane, files: dict[str, str], sdk: str, case: str) -> None:  # noqa: F811
    users = lane.users(CHAT_APP, "alice", "bob")
    lane.run("files", case, sdk, users=users, files=files, timeoutMs=60_000)
