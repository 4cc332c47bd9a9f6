"""A group's shared files (agora-rest.md §3.5; the Web SDK's uploadGroupSharedFile,
getGroupSharedFilelist, downloadGroupSharedFile, deleteGroupSharedFile — §3 of
agora-protocol-2.md)::

    POST   /chatgroups/{g}/share_files            multipart file (≤ 10 MB) → data {file_url,
                                                  file_name, file_id, file_size, created}
    GET    /chatgroups/{g}/share_files?pagenum=&pagesize=   data [{file_id, file_name,
                                                  file_owner, file_size, created}]
    GET    /chatgroups/{g}/share_files/{file_id}  the bytes (Range)
    DELETE /chatgroups/{g}/share_files/{file_id}  data {group_id, file_id, result: true}

With an app token, or a member's user token (deleting: the uploader, the owner, an admin).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from kibitz.server.domain.file_models import FileRecord
from kibitz.server.domain.group_files import GROUP_FILE_MAX_BYTES, GroupFiles

from ..deps import AppDep, services_of
from ..downloads import parse_range, stream_response
from ..envelope import ok
from ..errors import RestError
from ..file_shapes import DOWNLOAD_RESPONSES, UPLOAD_BODY, download_parameters
from ..group_shapes import GroupDataEnvelope
from ..openapi import operation, operation_id
from .files import receive_upload
from .group_args import actor_of, illegal, principal_of

__all__ = ["router"]

router = APIRouter(
    prefix="/{org_name}/{app_name}/chatgroups/{group_id}/share_files",
    generate_unique_id_function=operation_id,
)

_PAGE_PARAMETERS = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
    for name in ("pagenum", "pagesize")
]


def _group_files(request: Request) -> GroupFiles:
    services = services_of(request)
    return GroupFiles(services.groups, services.files)


def _path(group_id: str) -> str:
    return f"/chatgroups/{group_id}/share_files"


def _listed(record: FileRecord) -> dict[str, Any]:
    return {
        "file_id": record.uuid,
        "file_name": record.filename,
        "file_owner": record.owner,
        "file_size": record.size,
        "created": record.created_ms,
    }


def ok_data(request: Request, app: Any, group_id: str, data: Any) -> JSONResponse:
    return ok(request, app, path=_path(group_id), data=data)


def _number(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or len(value) > 9:
        raise illegal("pagenum and pagesize are positive integers.")
    return int(value)


@router.post(
    "", **operation(ok=GroupDataEnvelope, credential="member", errors=(403,), body_doc=UPLOAD_BODY)
)
async def upload_group_file(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    principal = await principal_of(request, app)
    await _group_files(request).member(app, group_id, actor_of(principal))
    record = await receive_upload(
        request,
        app,
        principal,
        group_id=group_id,
        max_bytes=GROUP_FILE_MAX_BYTES,
        restricted=True,  # read through the group's route (members), or with the secret
    )
    base = str(request.base_url).rstrip("/")
    data = {
        "file_url": f"{base}/{app.org_name}/{app.app_name}{_path(group_id)}/{record.uuid}",
        "group_id": group_id,
        "file_name": record.filename,
        "created": record.created_ms,
        "file_id": record.uuid,
        "file_size": record.size,
    }
    return ok_data(request, app, group_id, data)


@router.get(
    "",
    **operation(
        ok=GroupDataEnvelope, credential="member", errors=(403,), parameters=_PAGE_PARAMETERS
    ),
)
async def list_group_files(request: Request, app: AppDep, group_id: str) -> JSONResponse:
    principal = await principal_of(request, app)
    q = request.query_params
    number, size = _number(q.get("pagenum"), 1), _number(q.get("pagesize"), 10)
    records = await _group_files(request).page(app, group_id, actor_of(principal), number, size)
    return ok_data(request, app, group_id, [_listed(r) for r in records])


@router.get(
    "/{file_id}",
    response_class=Response,
    **operation(
        ok=None,
        credential="member",
        errors=(403,),
        parameters=[p for p in download_parameters() if p["name"] == "Range"],
        responses=DOWNLOAD_RESPONSES,
    ),
)
async def download_group_file(
    request: Request, app: AppDep, group_id: str, file_id: str
) -> Response:
    principal = await principal_of(request, app)
    record = await _group_files(request).find(app, group_id, actor_of(principal), file_id)
    try:
        byte_range = parse_range(request.headers.get("range"), record.size)
    except ValueError as exc:
        raise RestError(
            416,
            "requested_range_not_satisfiable",
            f"The range is outside the file's {record.size} bytes.",
            "RequestedRangeNotSatisfiableException",
        ) from exc
    start, end = byte_range if byte_range is not None else (0, record.size)
    return await stream_response(
        services_of(request).files.read(record, start, end),
        size=record.size,
        content_type=record.content_type,
        filename=record.filename or record.uuid,
        byte_range=byte_range,
    )


@router.delete("/{file_id}", **operation(ok=GroupDataEnvelope, credential="member", errors=(403,)))
async def delete_group_file(
    request: Request, app: AppDep, group_id: str, file_id: str
) -> JSONResponse:
    principal = await principal_of(request, app)
    await _group_files(request).delete(app, group_id, actor_of(principal), file_id)
    return ok_data(
        request, app, group_id, {"group_id": group_id, "file_id": file_id, "result": True}
    )
