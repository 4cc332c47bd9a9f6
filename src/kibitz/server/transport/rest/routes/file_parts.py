"""The Web SDK's chunked upload, ``/{org}/{app}/sdk/chatfiles/part-upload``
(agora-protocol-2.md §15.2; the domain is ``file_parts.py``).

- ``POST …/part-upload``: ``entities[0]`` = ``uuid``, ``file_upper_limit`` (the app's cap),
  ``part_lower_limit`` (the part size the SDK then uses: 5 MiB);
- ``PUT …/part-upload/{uuid}``: multipart ``part_file`` and ``part_number``;
- ``POST …/part-upload/{uuid}?restrict-access=&thumbnail-width=&thumbnail-height=``:
  complete, answered exactly as a single upload (``entities[0].uuid``, ``share-secret``);
- ``DELETE …/part-upload/{uuid}``: abort.

Each step needs the uploader's token (or the app's).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.domain.auth import Principal
from kibitz.server.domain.file_models import UploadInfo
from kibitz.server.domain.file_parts import FileParts
from kibitz.server.domain.files import PART_BYTES

from ..deps import AppDep, authenticate, services_of
from ..envelope import ok
from ..file_shapes import PART_BODY, PartEnvelope, PartsEnvelope
from ..openapi import operation, operation_id
from ..uploads import MultipartUpload
from .files import flag, positive, upload_entity

__all__ = ["router"]

router = APIRouter(
    prefix="/{org_name}/{app_name}/sdk/chatfiles/part-upload",
    generate_unique_id_function=operation_id,
)
_PATH = "/sdk/chatfiles/part-upload"


def _parts(request: Request) -> FileParts:
    services = services_of(request)
    return FileParts(services.files, services.clock)


def _owner(principal: Principal) -> str | None:
    return principal.user.username if principal.user is not None else None


@router.post("", **operation(ok=PartsEnvelope, credential="any"))
async def begin_part_upload(request: Request, app: AppDep) -> JSONResponse:
    principal = await authenticate(request, app)
    record, cap = await _parts(request).begin(app, _owner(principal) or "admin")
    entity = {"uuid": record.uuid, "file_upper_limit": cap, "part_lower_limit": PART_BYTES}
    return ok(request, app, path=_PATH, entities=[entity])


@router.put("/{file_uuid}", **operation(ok=PartEnvelope, credential="any", body_doc=PART_BODY))
async def put_part(request: Request, app: AppDep, file_uuid: str) -> JSONResponse:
    principal = await authenticate(request, app)
    upload = MultipartUpload(request)
    if not upload.is_multipart:
        raise ChatError(ErrorCode.FILE_INVALID, "a part is multipart/form-data with part_file")
    size = await _parts(request).put(
        app,
        file_uuid,
        _owner(principal),
        upload.file_chunks(),
        lambda: upload.fields.get("part_number"),
    )
    return ok(request, app, path=_PATH, entities=[], data={"uuid": file_uuid, "size": size})


@router.post("/{file_uuid}", **operation(ok=PartsEnvelope, credential="any"))
async def complete_part_upload(request: Request, app: AppDep, file_uuid: str) -> JSONResponse:
    principal = await authenticate(request, app)
    q = request.query_params
    record = await _parts(request).complete(
        app,
        file_uuid,
        _owner(principal),
        lambda: UploadInfo(
            thumb_width=positive(q.get("thumbnail-width")),
            thumb_height=positive(q.get("thumbnail-height")),
        ),
        restricted=flag(q.get("restrict-access") or request.headers.get("restrict-access")),
    )
    return ok(request, app, path=_PATH, entities=[upload_entity(record)])


@router.delete("/{file_uuid}", **operation(ok=PartEnvelope, credential="any"))
async def abort_part_upload(request: Request, app: AppDep, file_uuid: str) -> JSONResponse:
    principal = await authenticate(request, app)
    await _parts(request).abort(app, file_uuid, _owner(principal))
    return ok(request, app, path=_PATH, entities=[], data={"uuid": file_uuid, "result": "ok"})
