"""The one table from what the server says to the ``ErrorCode`` a user sees.

Three places carry failures to a client: the msync ``Status`` of a login (Provision
reply) or of a send ack, the STATISTIC operation of a kick, and REST error bodies. The
reason strings below are the ones the official Web SDK keys on (protocol notes §7), so a
server that satisfies the Web SDK is understood here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import pb

__all__ = ["kick_code", "login_error", "rest_error", "send_error"]

S = pb.Status

# (status code, reason pattern or None for "any reason") → code, first match wins.
_Rule = tuple[int, "re.Pattern[str] | None", ErrorCode]


def _r(status: int, pattern: str | None, code: ErrorCode) -> _Rule:
    return (status, re.compile(pattern, re.IGNORECASE) if pattern else None, code)


LOGIN_RULES: Final[list[_Rule]] = [
    _r(S.FAIL, r"token expired", ErrorCode.USER_AUTHENTICATION_FAILED),
    _r(S.TOKEN_EXPIRED, None, ErrorCode.USER_AUTHENTICATION_FAILED),
    _r(S.FAIL, r"token or password does not match", ErrorCode.INVALID_TOKEN),
    _r(S.FAIL, r"user not found", ErrorCode.USER_NOT_FOUND),
    _r(S.FAIL, r"app ?key|app not found|application", ErrorCode.INVALID_APP_KEY),
    _r(S.FAIL, r"register limit|rate limit", ErrorCode.EXCEED_SERVICE_LIMIT),
    _r(S.FAIL, r"deactivat|banned|forbidden", ErrorCode.USER_PERMISSION_DENIED),
    _r(S.FAIL, r"user ?name|username", ErrorCode.INVALID_USER_NAME),
    _r(S.UNAUTHORIZED, None, ErrorCode.INVALID_TOKEN),
    _r(S.TOO_MANY_DEVICES, None, ErrorCode.USER_LOGIN_TOO_MANY_DEVICES),
    _r(S.BIND_ANOTHER_DEVICE, None, ErrorCode.USER_BIND_ANOTHER_DEVICE),
    _r(S.IM_FORBIDDEN, None, ErrorCode.SERVER_SERVICE_RESTRICTED),  # the app is banned
    _r(S.PERMISSION_DENIED, r"limit", ErrorCode.EXCEED_SERVICE_LIMIT),
    _r(S.PERMISSION_DENIED, None, ErrorCode.USER_PERMISSION_DENIED),
    _r(S.PLATFORM_LIMIT, None, ErrorCode.EXCEED_SERVICE_LIMIT),
    _r(S.WRONG_PARAMETER, r"app ?key", ErrorCode.INVALID_APP_KEY),
    _r(S.WRONG_PARAMETER, r"user ?name|username", ErrorCode.INVALID_USER_NAME),
    _r(S.WRONG_PARAMETER, None, ErrorCode.USER_ILLEGAL_ARGUMENT),
    _r(S.MISSING_PARAMETER, None, ErrorCode.USER_ILLEGAL_ARGUMENT),
    _r(S.FAIL, None, ErrorCode.USER_AUTHENTICATION_FAILED),
]

SEND_RULES: Final[list[_Rule]] = [
    _r(S.USER_MUTED, None, ErrorCode.USER_MUTED),
    _r(S.FAIL, r"^username .* doesn't exist", ErrorCode.USER_NOT_FOUND),
    _r(S.FAIL, r"grpid .* does not exist", ErrorCode.CHATROOM_NOT_EXIST),
    _r(S.FAIL, r"^group not found", ErrorCode.GROUP_NOT_EXIST),
    _r(S.FAIL, r"not in group or chatroom white list", ErrorCode.MESSAGE_ILLEGAL_WHITELIST),
    _r(S.FAIL, r"not in group or chatroom", ErrorCode.GROUP_NOT_JOINED),
    _r(S.FAIL, r"group member list is full", ErrorCode.GROUP_MEMBERS_FULL),
    _r(S.FAIL, r"^blocked", ErrorCode.USER_PERMISSION_DENIED),
    _r(S.FAIL, r"nonroster", ErrorCode.USER_NOT_FRIEND),
    _r(S.FAIL, r"group is disabled", ErrorCode.GROUP_PERMISSION_DENIED),
    _r(S.FAIL, r"limit directed users", ErrorCode.EXCEED_SERVICE_LIMIT),
    _r(S.FAIL, r"exceed recall time limit", ErrorCode.MESSAGE_RECALL_TIME_LIMIT),
    _r(S.FAIL, r"message recall disabled", ErrorCode.SERVICE_NOT_ENABLED),
    _r(S.FAIL, r"^group read ack disabled", ErrorCode.SERVICE_NOT_ENABLED),
    _r(S.FAIL, r"^message expired", ErrorCode.MESSAGE_EXPIRED),
    _r(S.FAIL, r"server busy", ErrorCode.SERVER_BUSY),
    _r(S.FAIL, r"^internal error", ErrorCode.SERVER_UNKNOWN_ERROR),
    _r(S.FAIL, r"^message does not exist", ErrorCode.MESSAGE_INVALID),
    _r(S.PERMISSION_DENIED, r"user is mute", ErrorCode.USER_MUTED),
    _r(S.PERMISSION_DENIED, r"traffic limit", ErrorCode.MESSAGE_SEND_TRAFFIC_LIMIT),
    _r(S.PERMISSION_DENIED, r"data is too large", ErrorCode.EXCEED_SERVICE_LIMIT),
    _r(S.PERMISSION_DENIED, r"sensitive|antispam", ErrorCode.MESSAGE_INVALID),
    _r(S.PERMISSION_DENIED, None, ErrorCode.USER_PERMISSION_DENIED),
    _r(S.PERMISSION_DENIED_EXTERNAL, None, ErrorCode.USER_PERMISSION_DENIED),
    _r(S.WRONG_PARAMETER, None, ErrorCode.MESSAGE_INVALID),
    _r(S.MISSING_PARAMETER, None, ErrorCode.MESSAGE_INVALID),
    _r(S.PB_PARSER_ERROR, None, ErrorCode.MESSAGE_INVALID),
    _r(S.FAIL, None, ErrorCode.MESSAGE_INVALID),
]

KICKS: Final[Mapping[int, ErrorCode]] = {
    pb.StatisticsBody.USER_REMOVED: ErrorCode.USER_REMOVED,
    pb.StatisticsBody.USER_LOGIN_ANOTHER_DEVICE: ErrorCode.USER_LOGIN_ANOTHER_DEVICE,
    pb.StatisticsBody.USER_KICKED_BY_CHANGE_PASSWORD: ErrorCode.USER_KICKED_BY_CHANGE_PASSWORD,
    pb.StatisticsBody.USER_KICKED_BY_OTHER_DEVICE: ErrorCode.USER_KICKED_BY_OTHER_DEVICE,
}

# REST: description patterns first (they are the precise part), then Agora's ``error``
# strings, then the HTTP status.
REST_DESCRIPTIONS: Final[list[tuple[re.Pattern[str], ErrorCode]]] = [
    (re.compile(p, re.IGNORECASE), c)
    for p, c in [
        (r"invalid password|password must", ErrorCode.INVALID_PASSWORD),
        (r"service restricted", ErrorCode.SERVER_SERVICE_RESTRICTED),
        (r"user not found|username .* doesn't exist", ErrorCode.USER_NOT_FOUND),
        (r"deactivat", ErrorCode.USER_PERMISSION_DENIED),
        (r"not a legal username|is not legal", ErrorCode.INVALID_USER_NAME),
        (r"expired", ErrorCode.USER_AUTHENTICATION_FAILED),
        (r"does not belong", ErrorCode.INVALID_TOKEN),
        (r"too large", ErrorCode.EXCEED_SERVICE_LIMIT),
        (r"contact list of peer .* is full", ErrorCode.CONTACT_REACH_LIMIT_PEER),
        (r"contact max count", ErrorCode.CONTACT_REACH_LIMIT),
        (r"they are not friends|is not your contact", ErrorCode.USER_NOT_FRIEND),
        (r"remark length must less|quantity has exceeded", ErrorCode.EXCEED_SERVICE_LIMIT),
        (r"^ext is too big", ErrorCode.PRESENCE_PARAM_LENGTH_EXCEED),
        (r"service not open", ErrorCode.SERVICE_NOT_ENABLED),
        (r"^user info of at most", ErrorCode.USERINFO_USERCOUNT_EXCEED),
        (r"^user attributes are at most", ErrorCode.USERINFO_DATALENGTH_EXCEED),
        (r"^too many (sub|get|unsub) presence", ErrorCode.EXCEED_SERVICE_LIMIT),
    ]
]
REST_ERRORS: Final[Mapping[str, ErrorCode]] = {
    "organization_application_not_found": ErrorCode.INVALID_APP_KEY,
    "auth_bad_access_token": ErrorCode.INVALID_TOKEN,
    "unauthorized": ErrorCode.USER_AUTHENTICATION_FAILED,
    "invalid_client": ErrorCode.USER_AUTHENTICATION_FAILED,
    "invalid_grant": ErrorCode.USER_AUTHENTICATION_FAILED,
    "duplicate_unique_property_exists": ErrorCode.USER_ALREADY_EXIST,
    "service_resource_not_found": ErrorCode.USER_NOT_FOUND,
    "reach_limit": ErrorCode.SERVER_BUSY,
    "resource_limited": ErrorCode.EXCEED_SERVICE_LIMIT,
    "forbidden_op": ErrorCode.USER_PERMISSION_DENIED,
    "request_entity_too_large": ErrorCode.MESSAGE_INVALID,
    "illegal_argument": ErrorCode.USER_ILLEGAL_ARGUMENT,
    "json_parse": ErrorCode.USER_ILLEGAL_ARGUMENT,
    "contact_add_failed": ErrorCode.CONTACT_ADD_FAILED,
    "exceed_limit": ErrorCode.EXCEED_SERVICE_LIMIT,
}
# REST answers on the group routes (``/chatgroups/…``): like the Web SDK, which reads these
# descriptions only when the URL names chatgroups (chat rooms reuse the wording for 7xx).
GROUP_PATH: Final = re.compile(r"^(/sdk)?/chatgroups(/|$)")
REST_GROUP_DESCRIPTIONS: Final[list[tuple[re.Pattern[str], ErrorCode]]] = [
    (re.compile(p, re.IGNORECASE), c)
    for p, c in [
        (r"are not members of this group", ErrorCode.GROUP_NOT_JOINED),
        (r"already in group", ErrorCode.GROUP_ALREADY_JOINED),
        (r"group member list is full|greater than max user size", ErrorCode.GROUP_MEMBERS_FULL),
        (r"do not find this group|group not found|does not exist", ErrorCode.GROUP_NOT_EXIST),
        (r"group id illegal|groupid can not be null", ErrorCode.GROUP_INVALID_ID),
    ]
]
REST_GROUP_ERRORS: Final[Mapping[str, ErrorCode]] = {
    "forbidden_op": ErrorCode.GROUP_PERMISSION_DENIED,
    "resource_not_found": ErrorCode.GROUP_NOT_EXIST,
}
REST_STATUSES: Final[Mapping[int, ErrorCode]] = {
    400: ErrorCode.USER_ILLEGAL_ARGUMENT,
    401: ErrorCode.USER_AUTHENTICATION_FAILED,
    403: ErrorCode.USER_PERMISSION_DENIED,
    404: ErrorCode.USER_NOT_FOUND,
    413: ErrorCode.MESSAGE_INVALID,
    429: ErrorCode.SERVER_BUSY,
}


def _match(rules: list[_Rule], status: pb.Status, fallback: ErrorCode) -> ChatError:
    reason = status.reason
    for code, pattern, mapped in rules:
        if status.error_code == code and (pattern is None or pattern.search(reason)):
            return ChatError(mapped, reason or mapped.description)
    return ChatError(fallback, reason or f"server status {status.error_code}")


def login_error(status: pb.Status) -> ChatError:
    """The error for a Provision reply whose status is not OK."""
    return _match(LOGIN_RULES, status, ErrorCode.USER_AUTHENTICATION_FAILED)


def send_error(status: pb.Status) -> ChatError:
    """The error for a send ack whose status is not OK."""
    return _match(SEND_RULES, status, ErrorCode.SERVER_UNKNOWN_ERROR)


def kick_code(operation: int) -> ErrorCode | None:
    """The ``on_logged_out`` code of a STATISTIC operation; ``None`` for non-kicks."""
    return KICKS.get(operation)


def rest_error(http_status: int, body: object, path: str = "") -> ChatError:
    """The error for a non-2xx REST answer with an Agora-style ``{error, error_description}``;
    ``path`` (after ``/{org}/{app}``) tells a group route's answers apart."""
    error = description = ""
    if isinstance(body, dict):
        error = str(body.get("error", ""))
        description = str(body.get("error_description", ""))
    text = description or error or f"HTTP {http_status}"
    if http_status == 503:  # the server sheds load: try again later
        return ChatError(ErrorCode.SERVER_BUSY, text)
    if http_status >= 500:
        return ChatError(ErrorCode.SERVER_UNKNOWN_ERROR, text)
    group = GROUP_PATH.match(path) is not None
    for pattern, code in (REST_GROUP_DESCRIPTIONS if group else []) + REST_DESCRIPTIONS:
        if pattern.search(description):
            return ChatError(code, text)
    found = (REST_GROUP_ERRORS.get(error) if group else None) or REST_ERRORS.get(error)
    code = found or REST_STATUSES.get(http_status, ErrorCode.GENERAL_ERROR)
    return ChatError(code, text)
