"""``client.group_files``: a group's shared files, as the Web SDK's uploadGroupSharedFile,
getGroupSharedFilelist, downloadGroupSharedFile and deleteGroupSharedFile.

    shared = await client.group_files.upload(group_id, "minutes.pdf")
    for f in await client.group_files.list(group_id):
        print(f.file_name, f.file_size)
    await client.group_files.download(group_id, shared.file_id, "copy.pdf")
    await client.group_files.delete(group_id, shared.file_id)

Errors: FILE_NOT_FOUND (no such local file, or not the group's), FILE_TOO_LARGE (> 10 MB),
FILE_INVALID, FILE_UPLOAD_FAILED, FILE_DOWNLOAD_FAILED, FILE_DELETE_FAILED (refused: only
the uploader, the owner or an admin may), GROUP_NOT_JOINED for non-members.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import Content, ContentKind

from ._files import download_file, upload_file

if TYPE_CHECKING:
    from ._client import ChatClient

__all__ = ["GroupFileManager", "SharedFile"]


@dataclass(frozen=True, slots=True)
class SharedFile:
    file_id: str
    file_name: str
    file_size: int
    created: int  # epoch ms
    file_owner: str = ""


class GroupFileManager:
    def __init__(self, client: ChatClient) -> None:
        self._client = client

    def _path(self, group_id: str, file_id: str = "") -> str:
        path = f"/chatgroups/{quote(group_id, safe='')}/share_files"
        return f"{path}/{quote(file_id, safe='')}" if file_id else path

    async def upload(self, group_id: str, path: str | os.PathLike[str]) -> SharedFile:
        rest, login = self._client._rest_login()
        done = await upload_file(
            rest, login.token, Path(path), endpoint=self._path(group_id), group=True
        )
        data: dict[str, Any] = done.raw.get("data", {}) if isinstance(done.raw, dict) else {}
        return SharedFile(
            file_id=str(data.get("file_id", done.uuid)),
            file_name=str(data.get("file_name", Path(path).name)),
            file_size=int(data.get("file_size", done.length)),
            created=int(data.get("created", 0)),
            file_owner=login.username,
        )

    async def list(self, group_id: str, page: int = 1, page_size: int = 10) -> list[SharedFile]:
        rest, login = self._client._rest_login()
        body = await rest.call(
            "GET",
            self._path(group_id),
            token=login.token,
            params={"pagenum": page, "pagesize": page_size},
        )
        return [
            SharedFile(
                file_id=str(f["file_id"]),
                file_name=str(f.get("file_name", "")),
                file_size=int(f.get("file_size", 0)),
                created=int(f.get("created", 0)),
                file_owner=str(f.get("file_owner", "")),
            )
            for f in (body or {}).get("data", [])
        ]

    async def download(self, group_id: str, file_id: str, path: str | os.PathLike[str]) -> Path:
        rest, login = self._client._rest_login()
        where = rest.absolute(self._path(group_id, file_id))
        content = Content(ContentKind.FILE, url=where)
        return await download_file(rest, login.token, content, Path(path))

    async def delete(self, group_id: str, file_id: str) -> None:
        rest, login = self._client._rest_login()
        try:
            await rest.call("DELETE", self._path(group_id, file_id), token=login.token)
        except ChatError as exc:
            if exc.code in (ErrorCode.GROUP_NOT_JOINED, ErrorCode.GROUP_NOT_EXIST):
                raise
            raise ChatError(ErrorCode.FILE_DELETE_FAILED, exc.description) from exc
