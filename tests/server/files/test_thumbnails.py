"""The thumbnailer: Pillow's previews within the box, decompression bombs refused before
decoding, the first frame of a video through ffmpeg (a stand-in here: ffmpeg is not on
this machine), and a clear refusal without it."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from kibitz.server.files.thumbnails import PillowThumbnailer
from tests.server.transport.rest.test_files import png_claiming

pytestmark = pytest.mark.anyio


def encoded(image: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_previews_fit_the_box_and_keep_the_aspect() -> None:
    thumbs = PillowThumbnailer(ffmpeg="/nonexistent")
    data, kind = await thumbs.image(encoded(Image.new("RGB", (1000, 500)), "JPEG"), 170, 170)
    assert kind == "image/jpeg"
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (170, 85)


async def test_transparency_stays_png_and_animations_give_their_first_frame() -> None:
    thumbs = PillowThumbnailer(ffmpeg="/nonexistent")
    _, kind = await thumbs.image(encoded(Image.new("RGBA", (300, 300)), "PNG"), 100, 100)
    assert kind == "image/png"
    frames = [Image.new("P", (200, 100), i) for i in range(3)]
    gif = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    data, _ = await thumbs.image(gif, 50, 50)
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (50, 25)


@pytest.mark.parametrize("claimed", [(100_000, 100_000), (8_000, 8_000)])
async def test_bombs_are_refused_unread(claimed: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="refused"):
        await PillowThumbnailer(ffmpeg="/nonexistent").image(png_claiming(*claimed), 170, 170)


async def test_garbage_is_not_an_image() -> None:
    with pytest.raises(ValueError, match="not a readable image"):
        await PillowThumbnailer(ffmpeg="/nonexistent").image(b"not an image", 170, 170)


async def test_video_frames_through_ffmpeg(tmp_path: Path) -> None:
    frame = tmp_path / "frame.png"
    Image.new("RGB", (640, 360), "white").save(frame)
    fake = tmp_path / "ffmpeg"
    # Writes the prepared frame where ffmpeg would (its last argument), as ffmpeg -frames:v 1.
    fake.write_text(f'#!/bin/sh\nfor last; do :; done\ncp "{frame}" "$last"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    data, kind = await PillowThumbnailer(ffmpeg=str(fake)).video_frame(
        chunks(os.urandom(1000)), 170, 170
    )
    assert kind == "image/jpeg"
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (170, 96)


async def test_no_ffmpeg_no_video_frame(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")  # shutil.which finds no ffmpeg
    with caplog.at_level("INFO", logger="kibitz.server.files.thumbnails"):
        thumbs = PillowThumbnailer()
    assert any("ffmpeg is not on PATH" in r.getMessage() for r in caplog.records)
    with pytest.raises(LookupError):
        await thumbs.video_frame(chunks(b"x"), 170, 170)
