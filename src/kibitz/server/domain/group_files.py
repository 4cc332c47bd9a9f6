"""A group's shared files (agora-rest.md §3.5, agora-protocol-2.md §3): uploaded by its
members (≤ 10 MB, and the app's own cap), listed and downloaded by its members, deleted by
the uploader, the owner or an admin. The app's own credential (``actor`` None) may do all
of it. The files are attachments like any other (``FileService``, ``files.group_id``),
kept for the app's retention.
"""

from __future__ import annotations

from typing import Final

from kibitz.protocol import ChatError, ErrorCode

from .file_models import FileRecord
from .files import FileService
from .group_models import Member, Role, not_member
from .groups import GroupService
from .models import App

__all__ = ["GROUP_FILE_MAX_BYTES", "MAX_PAGE", "GroupFiles"]

GROUP_FILE_MAX_BYTES: Final = 10 * 1024 * 1024
MAX_PAGE: Final = 1000


class GroupFiles:
    def __init__(self, groups: GroupService, files: FileService) -> None:
        self._groups = groups
        self._files = files

    async def member(self, app: App, group_id: str, actor: str | None) -> Member | None:
        """The acting member (None for the app); GROUP_NOT_EXIST / GROUP_NOT_JOINED."""
        members = await self._groups.members(app, group_id)
        if actor is None:
            return None
        for m in members:
            if m.username == actor:
                return m
        raise ChatError(ErrorCode.GROUP_NOT_JOINED, not_member(actor))

    async def page(
        self, app: App, group_id: str, actor: str | None, number: int, size: int
    ) -> list[FileRecord]:
        """Page ``number`` (1-based) of ``size`` (≤ 1,000) of the group's files, oldest first."""
        await self.member(app, group_id, actor)
        if not 1 <= size <= MAX_PAGE or number < 1:
            raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "pagenum ≥ 1, 1 ≤ pagesize ≤ 1000")
        return await self._files.of_group(app, group_id, (number - 1) * size, size)

    async def find(self, app: App, group_id: str, actor: str | None, file_id: str) -> FileRecord:
        await self.member(app, group_id, actor)
        record = await self._files.find(app, file_id)
        if record.group_id != group_id:
            raise ChatError(ErrorCode.FILE_NOT_FOUND, f"file {file_id[:64]} not found")
        return record

    async def delete(self, app: App, group_id: str, actor: str | None, file_id: str) -> None:
        """The uploader, the owner or an admin; others: GROUP_PERMISSION_DENIED."""
        member = await self.member(app, group_id, actor)
        record = await self._files.find(app, file_id)
        if record.group_id != group_id:
            raise ChatError(ErrorCode.FILE_NOT_FOUND, f"file {file_id[:64]} not found")
        if member is not None and member.role is Role.MEMBER and record.owner != member.username:
            raise ChatError(
                ErrorCode.GROUP_PERMISSION_DENIED,
                "only the uploader, the owner or an admin can delete a shared file",
            )
        await self._files.delete(app, file_id)
