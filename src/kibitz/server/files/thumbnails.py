"""The ``Thumbnailer``: Pillow for images, ffmpeg (when on PATH) for a video's first frame.

Decoding is the dangerous part: a small PNG can claim 100,000 × 100,000 pixels. The image's
header is read first and anything above ``MAX_PIXELS`` refused before a pixel is decoded
(Pillow's own ``MAX_IMAGE_PIXELS`` guard is set to the same number as a second fence).
Work runs in a worker thread, one at a time per node: thumbnails are made once per file
and cached, so a queue here costs little and bounds the memory of the decodes.
"""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
import tempfile
import warnings
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Final

import anyio
import anyio.to_thread
from PIL import Image, ImageOps

__all__ = ["MAX_PIXELS", "PillowThumbnailer"]

log = logging.getLogger(__name__)

MAX_PIXELS: Final = 50_000_000  # ~ 7,000 × 7,000; a phone's photo is 12-50 MP
_VIDEO_TIMEOUT_S: Final = 30.0
_VIDEO_SOURCE_MAX: Final = 256 * 1024 * 1024


def _encode(image: Image.Image, width: int, height: int) -> tuple[bytes, str]:
    image = ImageOps.exif_transpose(image)
    image.thumbnail((width, height))
    out = io.BytesIO()
    if image.mode in ("RGBA", "LA", "P"):
        image.save(out, "PNG", optimize=True)
        return out.getvalue(), "image/png"
    image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue(), "image/jpeg"


def _thumbnail(data: bytes, width: int, height: int) -> tuple[bytes, str]:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                w, h = image.size
                if w <= 0 or h <= 0 or w * h > MAX_PIXELS:
                    raise ValueError(f"image of {w}×{h} pixels refused")
                frames = getattr(image, "n_frames", 1)
                if frames > 1:
                    image.seek(0)  # an animated GIF/WebP: its first frame
                image.load()
                return _encode(image, width, height)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"decompression bomb refused: {exc}") from exc
    except (OSError, SyntaxError) as exc:  # UnidentifiedImageError is an OSError
        raise ValueError(f"not a readable image: {type(exc).__name__}") from exc


class PillowThumbnailer:
    def __init__(self, ffmpeg: str | None = None) -> None:
        self._limiter = anyio.CapacityLimiter(1)
        self._ffmpeg = ffmpeg or shutil.which("ffmpeg")
        if self._ffmpeg is None:
            log.info("ffmpeg is not on PATH: videos get no thumbnail (install ffmpeg for one)")

    async def image(self, data: bytes, width: int, height: int) -> tuple[bytes, str]:
        return await anyio.to_thread.run_sync(
            _thumbnail, data, width, height, limiter=self._limiter
        )

    async def video_frame(
        self, chunks: AsyncIterable[bytes], width: int, height: int
    ) -> tuple[bytes, str]:
        if self._ffmpeg is None:
            raise LookupError("ffmpeg is not on PATH")
        with tempfile.TemporaryDirectory(prefix="kibitz-video-") as tmp:
            source = Path(tmp) / "video"
            size = 0
            async with await anyio.open_file(source, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > _VIDEO_SOURCE_MAX:
                        raise ValueError("video too large for a thumbnail")
                    await out.write(chunk)
            frame = Path(tmp) / "frame.png"
            proc = await asyncio.create_subprocess_exec(
                self._ffmpeg, "-v", "error", "-i", str(source), "-frames:v", "1", str(frame),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            try:
                code = await asyncio.wait_for(proc.wait(), _VIDEO_TIMEOUT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise ValueError("ffmpeg took too long") from None
            if code != 0 or not frame.is_file():
                raise ValueError("ffmpeg found no frame")
            data = await anyio.Path(frame).read_bytes()
        return await self.image(data, width, height)
