"""The S3 fixtures (moto on loopback) for the file store tests."""

from __future__ import annotations

from tests.s3_support import s3_env, s3_server

__all__ = ["s3_env", "s3_server"]
