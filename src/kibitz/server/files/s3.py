"""``FileStore`` on any S3-compatible object store (``--file-store s3://bucket/prefix``).

boto3 in worker threads (``anyio.to_thread``): the client is thread-safe and the calls are
few and large. The endpoint, region and credentials come from the usual AWS settings
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``,
profiles…), as any AWS tool reads them.

An upload small enough for one part is one ``PutObject``; a larger one a multipart upload of
``part_bytes`` parts, so a node holds about one part per upload in memory whatever the
file's size. On any failure (the cap, the client's stream, the store) the multipart upload
is aborted: the object never appears, and no part is left to pay for.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any, Final, TypeVar
from urllib.parse import urlparse

import anyio
import anyio.to_thread
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from kibitz.server.domain.file_models import BlobTooLarge

from .local import READ_CHUNK, check_key

__all__ = ["S3FileStore", "parse_s3_url"]

T = TypeVar("T")
# S3's smallest part (but the last): a node holds about one part per upload in flight.
PART_BYTES: Final = 5 * 1024 * 1024
_MISSING: Final = frozenset({"404", "NoSuchKey", "NotFound"})


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (bucket, "prefix/")."""
    parts = urlparse(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3://bucket/prefix URL: {url}")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


class S3FileStore:
    def __init__(
        self, bucket: str, prefix: str = "", *, client: Any = None, part_bytes: int = PART_BYTES
    ) -> None:
        self._bucket = bucket
        self._prefix = prefix
        self._part_bytes = max(part_bytes, 5 * 1024 * 1024)
        self._client = client or boto3.session.Session().client(
            "s3", config=Config(max_pool_connections=64, retries={"max_attempts": 3})
        )

    @classmethod
    def from_url(cls, url: str) -> S3FileStore:
        bucket, prefix = parse_s3_url(url)
        return cls(bucket, prefix)

    def _key(self, key: str) -> str:
        return self._prefix + check_key(key)

    async def _call(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        return await anyio.to_thread.run_sync(functools.partial(fn, **kwargs))

    async def put(self, key: str, chunks: AsyncIterable[bytes], max_bytes: int) -> int:
        name = self._key(key)
        pending: list[bytes] = []  # the next part, as received (joined once, when full)
        buffered = 0
        size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLarge
                pending.append(chunk)
                buffered += len(chunk)
                if buffered < self._part_bytes:
                    continue
                if upload_id is None:
                    started = await self._call(
                        self._client.create_multipart_upload, Bucket=self._bucket, Key=name
                    )
                    upload_id = str(started["UploadId"])
                data = b"".join(pending)
                pending.clear()
                buffered = 0
                parts.append(await self._part(name, upload_id, len(parts) + 1, data))
                del data
            rest = b"".join(pending)
            if upload_id is None:
                await self._call(self._client.put_object, Bucket=self._bucket, Key=name, Body=rest)
                return size
            if rest:
                parts.append(await self._part(name, upload_id, len(parts) + 1, rest))
            await self._call(
                self._client.complete_multipart_upload,
                Bucket=self._bucket,
                Key=name,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            return size
        except BaseException:
            if upload_id is not None:
                with anyio.CancelScope(shield=True):
                    await self._abort(name, upload_id)
            raise

    async def _part(self, name: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        answer = await self._call(
            self._client.upload_part,
            Bucket=self._bucket,
            Key=name,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    async def _abort(self, name: str, upload_id: str) -> None:
        try:
            await self._call(
                self._client.abort_multipart_upload,
                Bucket=self._bucket,
                Key=name,
                UploadId=upload_id,
            )
        except Exception:  # the store is gone; its lifecycle rules must reap the parts
            pass

    async def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            return
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Key": self._key(key)}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            answer = await self._call(self._client.get_object, **kwargs)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise FileNotFoundError(key) from exc
            raise
        body = answer["Body"]
        try:
            while True:
                chunk = await anyio.to_thread.run_sync(body.read, READ_CHUNK)
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await self._call(self._client.delete_object, Bucket=self._bucket, Key=self._key(key))

    async def exists(self, key: str) -> bool:
        try:
            await self._call(self._client.head_object, Bucket=self._bucket, Key=self._key(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            raise
        return True

    async def move(self, src: str, dst: str) -> None:
        source = {"Bucket": self._bucket, "Key": self._key(src)}
        try:  # a server-side copy (parts are ≤ the 5 GB CopyObject limit), then the delete
            await self._call(
                self._client.copy_object, Bucket=self._bucket, Key=self._key(dst), CopySource=source
            )
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise FileNotFoundError(src) from exc
            raise
        await self.delete(src)

    async def aclose(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            await anyio.to_thread.run_sync(close)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
