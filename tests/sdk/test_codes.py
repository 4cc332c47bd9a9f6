"""The SDK's one table from server statuses to ErrorCodes (the live tests drive each row
that kibitz produces; these pin the reason strings the Web SDK also keys on)."""

from __future__ import annotations

import pytest

from kibitz import ErrorCode
from kibitz.protocol._msync import pb
from kibitz.sdk._codes import kick_code, login_error, rest_error, send_error

S = pb.Status


@pytest.mark.parametrize(
    ("status", "reason", "code"),
    [
        (S.FAIL, "Sorry, token expired", ErrorCode.USER_AUTHENTICATION_FAILED),
        (S.FAIL, "Sorry, token or password does not match login info", ErrorCode.INVALID_TOKEN),
        (S.FAIL, "Sorry, user not found", ErrorCode.USER_NOT_FOUND),
        (S.FAIL, "Sorry, app key not found", ErrorCode.INVALID_APP_KEY),
        (S.FAIL, "Sorry, user register limit", ErrorCode.EXCEED_SERVICE_LIMIT),
        (S.PERMISSION_DENIED, "Sorry, user is deactivated", ErrorCode.USER_PERMISSION_DENIED),
        (S.PERMISSION_DENIED, "Sorry, the app online count limit", ErrorCode.EXCEED_SERVICE_LIMIT),
        (S.TOO_MANY_DEVICES, "Sorry, too many devices", ErrorCode.USER_LOGIN_TOO_MANY_DEVICES),
        (S.UNAUTHORIZED, "", ErrorCode.INVALID_TOKEN),
        (S.FAIL, "Sorry, login failed", ErrorCode.USER_AUTHENTICATION_FAILED),
    ],
)
def test_login_statuses(status: int, reason: str, code: ErrorCode) -> None:
    error = login_error(pb.Status(error_code=status, reason=reason))  # type: ignore[arg-type]
    assert error.code is code
    assert error.description == reason or not reason


@pytest.mark.parametrize(
    ("status", "reason", "code"),
    [
        (S.FAIL, "username ghost doesn't exist!", ErrorCode.USER_NOT_FOUND),
        (S.FAIL, "text message without text", ErrorCode.MESSAGE_INVALID),
        (S.FAIL, "group not found", ErrorCode.GROUP_NOT_EXIST),
        (S.FAIL, "grpID 42 does not exist!", ErrorCode.CHATROOM_NOT_EXIST),
        (S.USER_MUTED, "", ErrorCode.USER_MUTED),
        (S.PERMISSION_DENIED, "Sorry, data is too large", ErrorCode.EXCEED_SERVICE_LIMIT),
        (S.PERMISSION_DENIED, "traffic limit", ErrorCode.MESSAGE_SEND_TRAFFIC_LIMIT),
        (S.FAIL, "message recall disabled", ErrorCode.SERVICE_NOT_ENABLED),
    ],
)
def test_send_statuses(status: int, reason: str, code: ErrorCode) -> None:
    assert send_error(pb.Status(error_code=status, reason=reason)).code is code  # type: ignore[arg-type]


def test_kick_operations() -> None:
    ops = pb.StatisticsBody
    assert kick_code(ops.USER_REMOVED) is ErrorCode.USER_REMOVED
    assert kick_code(ops.USER_LOGIN_ANOTHER_DEVICE) is ErrorCode.USER_LOGIN_ANOTHER_DEVICE
    assert kick_code(ops.USER_KICKED_BY_CHANGE_PASSWORD) is ErrorCode.USER_KICKED_BY_CHANGE_PASSWORD
    assert kick_code(ops.USER_KICKED_BY_OTHER_DEVICE) is ErrorCode.USER_KICKED_BY_OTHER_DEVICE
    assert kick_code(ops.INFORMATION) is None


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (
            400,
            {"error": "invalid_grant", "error_description": "invalid password"},
            ErrorCode.INVALID_PASSWORD,
        ),
        (
            400,
            {"error": "invalid_grant", "error_description": "user not found"},
            ErrorCode.USER_NOT_FOUND,
        ),
        (
            404,
            {"error": "organization_application_not_found", "error_description": "x"},
            ErrorCode.INVALID_APP_KEY,
        ),
        (
            401,
            {
                "error": "auth_bad_access_token",
                "error_description": "Unable to authenticate due to corrupt access token.",
            },
            ErrorCode.INVALID_TOKEN,
        ),
        (
            401,
            {
                "error": "unauthorized",
                "error_description": "Unable to authenticate due to expired access token.",
            },
            ErrorCode.USER_AUTHENTICATION_FAILED,
        ),
        (
            403,
            {"error": "forbidden_op", "error_description": "user is deactivated"},
            ErrorCode.USER_PERMISSION_DENIED,
        ),
        (
            400,
            {"error": "duplicate_unique_property_exists", "error_description": "taken"},
            ErrorCode.USER_ALREADY_EXIST,
        ),
        (429, {"error": "reach_limit", "error_description": "slow down"}, ErrorCode.SERVER_BUSY),
        (500, None, ErrorCode.SERVER_UNKNOWN_ERROR),
        (418, "not json", ErrorCode.GENERAL_ERROR),
    ],
)
def test_rest_errors(status: int, body: object, code: ErrorCode) -> None:
    assert rest_error(status, body).code is code
