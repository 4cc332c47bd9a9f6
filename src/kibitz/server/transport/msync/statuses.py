"""Domain outcome → the msync status/reason the Web SDK understands: the one table.

Only status/reason pairs the SDK maps are ever sent (docs/websdk-notes.md, and
agora-protocol.md §7): a PERMISSION_DENIED with a reason it does not know leaves a send
hanging until its 15 s timeout, so a send is refused with PERMISSION_DENIED only for
"data is too large", "user is mute" and "traffic limit", reasons it lists.
"""

from __future__ import annotations

from typing import Final

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import pb

__all__ = ["login_status", "send_status"]

# Provision replies (docs/websdk-notes.md §1).
TOKEN_EXPIRED: Final = "Sorry, token expired"
TOKEN_MISMATCH: Final = "Sorry, token or password does not match login info"
USER_NOT_FOUND: Final = "Sorry, user not found"
USER_DEACTIVATED: Final = "Sorry, user is deactivated"
TOO_MANY_DEVICES: Final = "Sorry, too many devices"
APP_NOT_FOUND: Final = "Sorry, app key not found"
APP_DISABLED: Final = "Sorry, the app is disabled"


def login_status(exc: ChatError) -> tuple[pb.Status.ErrorCode, str]:
    """A failed login → the Provision status the SDK turns into the right error type."""
    code = exc.code
    if code is ErrorCode.USER_AUTHENTICATION_FAILED and "expired" in exc.description:
        return pb.Status.FAIL, TOKEN_EXPIRED  # 56
    if code in (ErrorCode.INVALID_TOKEN, ErrorCode.USER_AUTHENTICATION_FAILED):
        return pb.Status.FAIL, TOKEN_MISMATCH  # 28
    if code in (ErrorCode.USER_NOT_FOUND, ErrorCode.INVALID_USER_NAME):
        return pb.Status.FAIL, USER_NOT_FOUND  # 204
    if code is ErrorCode.USER_PERMISSION_DENIED:
        return pb.Status.PERMISSION_DENIED, USER_DEACTIVATED  # 2, never retried
    if code is ErrorCode.USER_LOGIN_TOO_MANY_DEVICES:
        return pb.Status.TOO_MANY_DEVICES, TOO_MANY_DEVICES  # 214 (4.21) / 2 (1.4)
    if code is ErrorCode.INVALID_APP_KEY:
        return pb.Status.FAIL, APP_NOT_FOUND  # 2
    if code is ErrorCode.SERVER_SERVICE_RESTRICTED:
        return pb.Status.IM_FORBIDDEN, APP_DISABLED  # 57 "server serving disabled"
    return pb.Status.FAIL, "Sorry, login failed"  # 2


def send_status(exc: ChatError) -> tuple[pb.Status.ErrorCode, str]:
    """A refused send → the ack status (agora-protocol.md §7.2)."""
    code = exc.code
    if code is ErrorCode.USER_NOT_FOUND:
        return pb.Status.FAIL, exc.description  # "username x doesn't exist!" → 204
    if code is ErrorCode.EXCEED_SERVICE_LIMIT:
        return pb.Status.PERMISSION_DENIED, "Sorry, data is too large"  # 511
    if code is ErrorCode.GROUP_NOT_EXIST:
        return pb.Status.FAIL, "group not found"  # 605
    if code in (ErrorCode.GROUP_NOT_JOINED, ErrorCode.CHATROOM_NOT_JOINED):
        return pb.Status.FAIL, "not in group or chatroom"  # 602 / 702
    if code is ErrorCode.USER_MUTED:
        return pb.Status.PERMISSION_DENIED, "user is mute"  # 219 (a listed reason)
    if code is ErrorCode.MESSAGE_SEND_TRAFFIC_LIMIT:
        return pb.Status.PERMISSION_DENIED, "traffic limit"  # 509 (a listed reason)
    if code is ErrorCode.MESSAGE_ILLEGAL_WHITELIST:
        return pb.Status.FAIL, "not in group or chatroom white list"  # 506
    if code is ErrorCode.USER_PERMISSION_DENIED and exc.description == "blocked":
        return pb.Status.FAIL, "blocked"  # 603: the recipient blocked the sender
    if code is ErrorCode.USER_NOT_FRIEND:
        return pb.Status.FAIL, "nonroster"  # 221: contacts only, and not a contact
    if code is ErrorCode.CHATROOM_NOT_EXIST:
        return pb.Status.FAIL, exc.description  # "grpID x does not exist!" → 705
    return pb.Status.FAIL, exc.description or "message refused"  # 503
