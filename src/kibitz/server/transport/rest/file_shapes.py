"""The OpenAPI shapes of the attachment routes (``routes/files.py``): the upload's
multipart body and answer, the download's bytes. Documentation only, as ``shapes.py``."""

from __future__ import annotations

from typing import Any, Final

from pydantic import Field

from .shapes import ErrorBody, _Doc

__all__ = [
    "DOWNLOAD_RESPONSES",
    "PART_BODY",
    "UPLOAD_BODY",
    "FileMetadata",
    "PartEnvelope",
    "PartsEnvelope",
    "UploadEnvelope",
    "UploadedFile",
    "download_parameters",
]


class FileMetadata(_Doc):
    content_length: int = Field(alias="content-length")
    content_type: str = Field(alias="content-type")


class UploadedFile(_Doc):
    uuid: str
    type: str = Field(description="Always chatfile")
    share_secret: str = Field(alias="share-secret", description="Present it to download")
    file_metadata: FileMetadata = Field(alias="file-metadata")


class UploadEnvelope(_Doc):
    action: str
    application: str
    path: str
    uri: str
    entities: list[UploadedFile] = Field(min_length=1, max_length=1)
    timestamp: int
    duration: int
    organization: str
    applicationName: str


class _Envelope(_Doc):
    action: str
    application: str
    path: str
    uri: str
    timestamp: int
    duration: int
    organization: str
    applicationName: str


class PartsEnvelope(_Envelope):
    """A chunked upload begun (uuid, file_upper_limit, part_lower_limit) or complete (as
    a single upload's answer)."""

    entities: list[dict[str, Any]] = Field(min_length=1, max_length=1)


class PartEnvelope(_Envelope):
    entities: list[Any] = Field(max_length=0)
    data: dict[str, Any]


PART_BODY: Final[dict[str, Any]] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["part_file"],
                "description": "part_number beside the bytes: 1 to 64",
                "properties": {"part_file": {"type": "string", "format": "binary"}},
            }
        }
    },
}

UPLOAD_BODY: Final[dict[str, Any]] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "description": "Fields beside the file: thumbnail-width and "
                "thumbnail-height (pixels; anything else, or none, means 170: the SDKs send "
                "what the app left unset)",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        }
    },
}

_ERROR: Final = {
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
}

DOWNLOAD_RESPONSES: Final[dict[int, dict[str, Any]]] = {
    200: {
        "description": "The file (or its thumbnail)",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    },
    206: {
        "description": "The bytes of the Range asked",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    },
    403: {
        "model": ErrorBody,
        "description": "Restricted, and no share secret: chatfile no permission",
    },
    404: {"model": ErrorBody, "description": "Unknown file, or expired (file_expired)"},
    416: {"model": ErrorBody, "description": "The Range is outside the file"},
}


def download_parameters() -> list[dict[str, Any]]:
    def header(name: str, description: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": description,
        }

    def query(name: str, description: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": description,
        }

    return [
        header("share-secret", "The file's share secret"),
        header("thumbnail", "true: the thumbnail (images; a video's first frame)"),
        header("Range", "bytes=START-END"),
        query("share-secret", "The file's share secret (for <img> URLs)"),
        query("em-redirect", "Accepted and ignored (the SDKs add it)"),
        query("thumbnail", "true: the thumbnail"),
        query("vframe", "true: a video's first frame"),
    ]
