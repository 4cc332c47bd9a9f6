"""The wire contract shared by the server and the SDK: error codes, ids, msync."""

from __future__ import annotations

from ._errors import ChatError as ChatError
from ._errors import ErrorCode as ErrorCode
from ._ids import IdGenerator as IdGenerator
from ._ids import MessageId as MessageId
from ._ids import id_timestamp_ms as id_timestamp_ms

__all__ = ["ChatError", "ErrorCode", "IdGenerator", "MessageId", "id_timestamp_ms"]
