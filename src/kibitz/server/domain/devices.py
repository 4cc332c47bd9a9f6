"""How many sessions a user may hold at once, and what a new login does to the others."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from kibitz.protocol import ChatError, ErrorCode

__all__ = ["Admission", "admit"]


@dataclass(frozen=True, slots=True)
class Admission:
    replaces: str | None  # the same resource logging in again: its old session goes quietly
    kicks: tuple[str, ...]  # single-device apps: the other session is logged out (206)


def admit(max_devices: int, online: Collection[str], resource: str) -> Admission:
    """Apply the app's device limit to a login from ``resource``.

    A login on a resource that is already online replaces that session (a reconnect whose
    old socket has not noticed yet). With ``max_devices == 1`` a new device logs the old
    one out, as Agora's single-device mode does; otherwise the login past the limit is
    refused with USER_LOGIN_TOO_MANY_DEVICES.
    """
    replaces = resource if resource in online else None
    others = [r for r in online if r != resource]
    if max_devices <= 1:
        return Admission(replaces=replaces, kicks=tuple(sorted(others)))
    if len(others) >= max_devices:
        raise ChatError(
            ErrorCode.USER_LOGIN_TOO_MANY_DEVICES,
            f"already logged in on {len(others)} devices, the most allowed",
        )
    return Admission(replaces=replaces, kicks=())
