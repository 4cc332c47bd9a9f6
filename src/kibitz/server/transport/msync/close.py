"""WebSocket close codes (RFC 6455 §7.4.1), one enum for every layer of the gateway.

The Web SDK reconnects on any close it did not ask for, so the code is for people reading
logs and captures; still, each layer picks the same code for the same cause.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Close"]


class Close(IntEnum):
    NORMAL = 1000  # logged out, login refused, idle, the peer went away
    GOING_AWAY = 1001  # this node is stopping (lifespan shutdown)
    PROTOCOL_ERROR = 1002  # not a valid WebSocket frame sequence
    UNSUPPORTED_DATA = 1003  # a text frame: msync is binary only
    BAD_DATA = 1007  # a binary frame that is not an MSync
    POLICY = 1008  # a valid MSync out of place: before login, a second PROVISION, unknown
    TOO_BIG = 1009  # over settings.max_frame_bytes
    INTERNAL = 1011  # a bug: an exception the gateway did not expect
    SERVICE_RESTART = 1012  # uvicorn shut the socket down under us
    TRY_LATER = 1013  # a slow consumer whose outbox filled up
