"""Attachments in the SDK: upload before sending, download after receiving.

``ChatMessage.image/voice/video/file(to, path)`` make a message whose file is still on disk;
``client.chat.send_message`` uploads it first (``POST /chatfiles``, as the Web SDK does,
``restrict-access: true``) and sends the message with the file's absolute URL and share
secret. ``client.download(message, path)`` fetches a received attachment with that secret,
from the node this client is on (the SDKs rewrite the URL's host to their REST base).

Errors: a local file that is missing → FILE_NOT_FOUND; the server refusing the upload →
FILE_TOO_LARGE (413), FILE_INVALID (400) or FILE_UPLOAD_FAILED; any failed download →
FILE_DOWNLOAD_FAILED (an unknown file: FILE_NOT_FOUND).
"""

from __future__ import annotations

import json
import mimetypes
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import httpx

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import ATTACHMENT_KINDS, Content, ContentKind

from ._codes import rest_error

if TYPE_CHECKING:
    from ._message import ChatMessage
    from ._rest import RestClient

__all__ = ["UploadedFile", "download_file", "upload_attachment", "upload_file"]

_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class UploadedFile:
    url: str  # absolute: {rest base}/{org}/{app}/chatfiles/{uuid}
    uuid: str
    secret: str
    length: int
    content_type: str
    raw: Any = None  # the server's answer


def _image_size(path: Path) -> tuple[float, float]:
    try:
        from PIL import Image

        with Image.open(path) as image:  # reads the header only
            return float(image.width), float(image.height)
    except Exception:  # not an image Pillow knows, or no Pillow: the size stays unknown
        return 0.0, 0.0


async def upload_file(
    rest: RestClient,
    token: str,
    path: Path,
    *,
    restrict: bool = True,
    params: dict[str, str] | None = None,
    endpoint: str = "/chatfiles",
    group: bool = False,
) -> UploadedFile:
    """Upload ``path`` to ``endpoint`` (a chat file, or ``group``: a group's shared file,
    answered as ``data`` instead of ``entities``)."""
    if not await anyio.Path(path).is_file():
        raise ChatError(ErrorCode.FILE_NOT_FOUND, f"no file at {path}")
    size = (await anyio.Path(path).stat()).st_size
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {"Authorization": f"Bearer {token}", "restrict-access": str(restrict).lower()}
    url = rest.url(endpoint)
    try:
        with path.open("rb") as f:  # httpx streams the part from the file, chunk by chunk
            response = await rest.http.post(
                url,
                files={"file": (path.name, f, content_type)},
                headers=headers,
                params=params,
                timeout=max(rest.timeout, 300.0),  # the Web SDK's upload timeout
            )
    except httpx.HTTPError as exc:
        raise ChatError(ErrorCode.FILE_UPLOAD_FAILED, f"uploading {path.name}: {exc}") from exc
    body = _json(response)
    if response.status_code == 413:
        raise ChatError(ErrorCode.FILE_TOO_LARGE, _describe(body, "the file is too large"))
    if response.status_code == 400:
        raise ChatError(ErrorCode.FILE_INVALID, _describe(body, "the file was refused"))
    if response.status_code in (401, 403, 404):
        raise rest_error(response.status_code, body, endpoint)
    if group and response.is_success and isinstance(body, dict) and "data" in body:
        data = body["data"]
        return UploadedFile(
            url=str(data.get("file_url", "")),
            uuid=str(data.get("file_id", "")),
            secret="",
            length=int(data.get("file_size", size)),
            content_type=content_type,
            raw=body,
        )
    entities = body.get("entities") if isinstance(body, dict) else None
    if not response.is_success or not entities or not isinstance(entities[0], dict):
        raise ChatError(ErrorCode.FILE_UPLOAD_FAILED, _describe(body, "the upload failed"))
    entity = entities[0]
    meta = entity.get("file-metadata") or {}
    return UploadedFile(
        url=rest.absolute(f"/chatfiles/{entity['uuid']}"),
        uuid=str(entity["uuid"]),
        secret=str(entity.get("share-secret", "")),
        length=int(meta.get("content-length", size)),
        content_type=str(meta.get("content-type", content_type)),
        raw=body,
    )


async def upload_attachment(
    rest: RestClient, token: str, message: ChatMessage, chat_type: str
) -> ChatMessage:
    """The message with its local file uploaded (unchanged when it has a URL already)."""
    body = message.body
    if body.kind not in ATTACHMENT_KINDS or body.url:
        return message
    if not message.local_path:
        raise ChatError(ErrorCode.MESSAGE_INVALID, f"a {body.kind} message needs a file")
    path = Path(message.local_path)
    params = {"chat-type": chat_type, "chat-target": message.to}
    done = await upload_file(rest, token, path, params=params)
    changes: dict[str, Any] = {
        "url": done.url,
        "secret": done.secret,
        "file_length": done.length,
        "filename": body.filename or path.name,
    }
    if body.kind is ContentKind.IMAGE and not (body.width and body.height):
        changes["width"], changes["height"] = await anyio.to_thread.run_sync(_image_size, path)
    if body.kind is ContentKind.VIDEO:  # the Web SDK's poster-frame URL
        changes["thumbnail_url"] = f"{done.url}?vframe=true"
        changes["thumbnail_secret"] = done.secret
    return replace(message, body=replace(body, **changes))


async def download_file(
    rest: RestClient,
    token: str | None,
    content: Content,
    dest: Path,
    *,
    thumbnail: bool = False,
) -> Path:
    """Fetch ``content``'s attachment into ``dest`` (written whole, then renamed)."""
    if not content.url:
        raise ChatError(ErrorCode.FILE_DOWNLOAD_FAILED, "the message has no file")
    parts = urlsplit(content.url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")  # on this client's node
    headers = {"share-secret": content.secret} if content.secret else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if thumbnail:
        headers["thumbnail"] = "true"
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        async with rest.http.stream("GET", target, headers=headers) as response:
            if not response.is_success:
                body = _json(response, await response.aread())
                code = (
                    ErrorCode.FILE_NOT_FOUND
                    if response.status_code == 404
                    else ErrorCode.FILE_DOWNLOAD_FAILED
                )
                raise ChatError(code, _describe(body, f"download: HTTP {response.status_code}"))
            async with await anyio.open_file(tmp, "wb") as out:
                async for chunk in response.aiter_bytes(_CHUNK):
                    await out.write(chunk)
        await anyio.to_thread.run_sync(os.replace, tmp, dest)
    except httpx.HTTPError as exc:
        raise ChatError(ErrorCode.FILE_DOWNLOAD_FAILED, f"download: {exc}") from exc
    finally:
        await anyio.Path(tmp).unlink(missing_ok=True)
    return dest


def _json(response: httpx.Response, content: bytes | None = None) -> Any:
    raw = response.content if content is None else content
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _describe(body: Any, fallback: str) -> str:
    if isinstance(body, dict) and body.get("error_description"):
        return str(body["error_description"])
    return fallback
