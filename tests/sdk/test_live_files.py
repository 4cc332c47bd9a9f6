"""Attachments in the Python SDK against a real ``kibitz serve``: ``ChatMessage.image/voice/
video/file`` upload when sent, ``client.download`` fetches the bytes; FILE_* codes for the
failures."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from kibitz import ChatError, ChatMessage, ErrorCode, MessageType
from tests.sdk.conftest import Clients, Live

pytestmark = pytest.mark.anyio


def make_png(path: Path, size: tuple[int, int] = (320, 200)) -> Path:
    out = io.BytesIO()
    Image.new("RGB", size, "blue").save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path


async def test_image_and_file_messages_upload_and_download(
    live: Live, clients: Clients, pair: dict[str, str], tmp_path: Path
) -> None:
    alice, _ = await clients.login(live.chat, pair["alice"], "pw")
    bob, rec = await clients.login(live.chat, pair["bob"], "pw")
    picture = make_png(tmp_path / "cat.png")
    document = tmp_path / "report.bin"
    document.write_bytes(os.urandom(200_000))
    sent = await alice.chat.send_message(ChatMessage.image(pair["bob"], picture))
    assert sent.body.url.startswith(live.chat.server.rest + "/")
    assert (sent.body.width, sent.body.height) == (320, 200)
    await alice.chat.send_message(ChatMessage.file(pair["bob"], document))
    await alice.chat.send_message(ChatMessage.voice(pair["bob"], document, duration=3))
    await rec.until(lambda: len(rec.messages) == 3)
    image, file, voice = rec.messages
    assert image.type is MessageType.IMAGE and image.body.filename == "cat.png"
    assert image.body.secret and image.body.file_length == picture.stat().st_size
    assert file.type is MessageType.FILE and voice.body.duration == 3
    got = await bob.download(image, tmp_path / "got.png")
    assert got.read_bytes() == picture.read_bytes()
    assert (await bob.download(file, tmp_path / "got.bin")).read_bytes() == document.read_bytes()
    thumb = await bob.download(image, tmp_path / "thumb.jpg", thumbnail=True)
    with Image.open(thumb) as preview:
        assert max(preview.size) == 170


async def test_file_errors(
    live: Live, clients: Clients, pair: dict[str, str], tmp_path: Path
) -> None:
    alice, _ = await clients.login(live.chat, pair["alice"], "pw")
    bob, rec = await clients.login(live.chat, pair["bob"], "pw")
    with pytest.raises(ChatError) as missing:
        await alice.chat.send_message(ChatMessage.file(pair["bob"], tmp_path / "nothing"))
    assert missing.value.code is ErrorCode.FILE_NOT_FOUND
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(ChatError) as invalid:
        await alice.chat.send_message(ChatMessage.file(pair["bob"], empty))
    assert invalid.value.code is ErrorCode.FILE_INVALID
    big = tmp_path / "big"
    big.write_bytes(b"x" * (10 * 1024 * 1024 + 1))  # over the app's default 10 MB
    with pytest.raises(ChatError) as too_large:
        await alice.chat.send_message(ChatMessage.file(pair["bob"], big))
    assert too_large.value.code is ErrorCode.FILE_TOO_LARGE
    small = tmp_path / "small"
    small.write_bytes(b"hello")
    await alice.chat.send_message(ChatMessage.file(pair["bob"], small))
    await rec.until(lambda: len(rec.messages) == 1)
    (message,) = rec.messages
    wrong = replace(message, body=replace(message.body, secret="wrong"))
    with pytest.raises(ChatError) as refused:
        await bob.download(wrong, tmp_path / "x")
    assert refused.value.code is ErrorCode.FILE_DOWNLOAD_FAILED
    assert not (tmp_path / "x").exists()
    gone = replace(
        message,
        body=replace(message.body, url=message.body.url.rsplit("/", 1)[0] + "/" + "0" * 8),
    )
    with pytest.raises(ChatError) as unknown:
        await bob.download(gone, tmp_path / "y")
    assert unknown.value.code is ErrorCode.FILE_NOT_FOUND
