"""Pick the file store from ``Settings.file_store``: a directory (default ``{data_dir}/files``)
or ``s3://bucket/prefix``."""

from __future__ import annotations

from pathlib import Path

from kibitz.server.domain.file_models import FileStore
from kibitz.server.settings import Settings

from .local import LocalFileStore

__all__ = ["build_file_store"]


def build_file_store(settings: Settings) -> FileStore:
    where = settings.file_store
    if where and where.startswith("s3://"):
        from .s3 import S3FileStore  # boto3 is imported only when S3 is used

        return S3FileStore.from_url(where)
    if where and "://" in where:
        raise ValueError(f"file store {where!r}: use a directory or s3://bucket/prefix")
    return LocalFileStore(Path(where) if where else settings.data_dir / "files")
