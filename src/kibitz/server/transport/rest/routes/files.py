"""``/{org}/{app}/chatfiles``: upload and download attachments (agora-rest.md §3.2,
agora-protocol-2.md §15).

Upload: multipart field ``file`` (streamed to storage, see ``uploads.py``), headers
``restrict-access`` and ``thumbnail-width``/``-height`` (also read as multipart fields,
where the Web SDK puts them), with an app token or a user token. The answer::

    {"entities": [{"uuid": "…", "type": "chatfile", "share-secret": "…",
                   "file-metadata": {"content-length": 123, "content-type": "image/png"}}], …}

Download: ``GET /chatfiles/{uuid}`` with ``Range``; the share secret as the ``share-secret``
header or query parameter (the SDKs' ``?em-redirect=true&share-secret=…`` URLs, which
``<img>`` elements load with no Authorization header); ``thumbnail: true`` (header or
query) or ``vframe=true`` for the preview. The secret alone suffices, by design (it is a
capability URL); without it, a restricted file is refused (403 ``chatfile no permission``,
the SDK's 222) unless the app's own token asks. ``em-redirect`` is accepted and ignored:
the file is served here, not redirected to a CDN.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.domain.auth import Principal
from kibitz.server.domain.file_models import FileRecord, UploadInfo
from kibitz.server.domain.files import EXPIRED

from ..deps import AppDep, authenticate, bearer_token, services_of
from ..downloads import parse_range, stream_response
from ..envelope import ok
from ..errors import RestError, error_body
from ..file_shapes import DOWNLOAD_RESPONSES, UPLOAD_BODY, UploadEnvelope, download_parameters
from ..openapi import operation, operation_id
from ..uploads import MultipartUpload

__all__ = ["flag", "positive", "receive_upload", "router", "upload_entity"]

router = APIRouter(prefix="/{org_name}/{app_name}", generate_unique_id_function=operation_id)

_TRUE = ("true", "1", "yes", "on")
_NOSNIFF = "nosniff"
# A multipart body's boundaries and headers, beyond the file itself.
_OVERHEAD = 64 * 1024


def flag(value: str | None) -> bool:
    return value is not None and value.strip().lower() in _TRUE


def positive(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        n = int(value.strip())
    except ValueError:
        return None
    return n if 0 < n < 100_000 else None


def upload_entity(record: FileRecord) -> dict[str, Any]:
    return {
        "uuid": record.uuid,
        "type": "chatfile",
        "share-secret": record.secret,
        "file-metadata": {"content-length": record.size, "content-type": record.content_type},
    }


async def receive_upload(
    request: Request,
    app: Any,
    principal: Principal,
    *,
    group_id: str | None = None,
    max_bytes: int | None = None,
    restricted: bool | None = None,
) -> FileRecord:
    """Stream one multipart upload into the file store (shared with the group routes;
    ``restricted`` None: as the ``restrict-access`` header says)."""
    files = services_of(request).files
    cap = await files.max_bytes(app)
    if max_bytes is not None:
        cap = min(cap, max_bytes)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap + _OVERHEAD:
        raise ChatError(ErrorCode.FILE_TOO_LARGE, "the file size exceeds the maximum limit.")
    upload = MultipartUpload(request)
    if not upload.is_multipart:
        raise ChatError(ErrorCode.FILE_INVALID, "an upload is multipart/form-data with a file part")
    headers = request.headers
    query = request.query_params
    return await files.upload(
        app,
        principal.user.username if principal.user is not None else "admin",
        upload.file_chunks(),
        lambda: UploadInfo(
            filename=upload.filename,
            content_type=upload.guessed_type(),
            thumb_width=positive(
                headers.get("thumbnail-width") or upload.fields.get("thumbnail-width")
            ),
            thumb_height=positive(
                headers.get("thumbnail-height") or upload.fields.get("thumbnail-height")
            ),
        ),
        restricted=flag(headers.get("restrict-access") or query.get("restrict-access"))
        if restricted is None
        else restricted,
        group_id=group_id,
        max_bytes=max_bytes,
    )


@router.post(
    "/chatfiles",
    **operation(ok=UploadEnvelope, credential="any", errors=(413,), body_doc=UPLOAD_BODY),
)
async def upload_file(request: Request, app: AppDep) -> JSONResponse:
    principal = await authenticate(request, app)
    record = await receive_upload(request, app, principal)
    return ok(request, app, path="/chatfiles", entities=[upload_entity(record)])


@router.get(
    "/chatfiles/{file_uuid}",
    response_class=Response,
    **operation(
        ok=None,
        credential="optional",
        errors=(403,),
        parameters=download_parameters(),
        responses=DOWNLOAD_RESPONSES,
    ),
)
async def download_file(request: Request, app: AppDep, file_uuid: str) -> Response:
    services = services_of(request)
    secret = request.headers.get("share-secret") or request.query_params.get("share-secret")
    principal: Principal | None = None
    refused: RestError | None = None
    if bearer_token(request) is not None:
        try:
            principal = await authenticate(request, app)
        except RestError as exc:
            refused = exc
    try:
        record = await services.files.authorize(
            app,
            file_uuid,
            secret=secret,
            is_app=principal is not None and principal.is_app,
            has_credential=principal is not None,
        )
    except ChatError as exc:
        if exc.code == ErrorCode.FILE_NOT_FOUND and exc.description == EXPIRED:
            raise RestError(
                404, "file_expired", "The file has expired.", "FileExpiredException"
            ) from exc
        if exc.code == ErrorCode.FILE_DOWNLOAD_FAILED and refused is not None:
            raise refused from exc
        raise
    q = request.query_params
    wants_thumb = flag(request.headers.get("thumbnail")) or flag(q.get("thumbnail"))
    if wants_thumb or flag(q.get("vframe")):
        record, kind = await services.files.thumbnail(record)
        if kind is not None:
            thumb = services.files.read_thumbnail(record)
            data = b"".join([chunk async for chunk in thumb])
            return Response(
                data,
                media_type=kind,
                headers={
                    "Cache-Control": "private, max-age=86400",
                    "X-Content-Type-Options": "nosniff",
                },
            )
    try:
        byte_range = parse_range(request.headers.get("range"), record.size)
    except ValueError:
        body = error_body(
            request.scope,
            services.clock.now_ms(),
            "requested_range_not_satisfiable",
            f"The range is outside the file's {record.size} bytes.",
            "kibitz.rest.RequestedRangeNotSatisfiableException",
        )
        headers = {"Content-Range": f"bytes */{record.size}"}
        return JSONResponse(body, status_code=416, headers=headers)
    start, end = byte_range if byte_range is not None else (0, record.size)
    return await stream_response(
        services.files.read(record, start, end),
        size=record.size,
        content_type=record.content_type,
        filename=record.filename or record.uuid,
        byte_range=byte_range,
    )
