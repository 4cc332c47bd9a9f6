"""The error vocabulary shared by the server, the REST layer and the Python SDK.

``ErrorCode`` holds the numbered codes of the Agora Chat SDK error-codes page, with the
same numbers and names, so a failure means the same thing on every side of kibitz.
``ChatError`` is the one exception type a client of kibitz ever sees::

    ChatError
      .code         an ErrorCode
      .description  a human sentence, safe to show (never a secret)
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

__all__ = ["ChatError", "ErrorCode"]


class ErrorCode(IntEnum):
    """Agora Chat SDK error codes (native numbering); ``describe()`` explains each."""

    EM_NO_ERROR = 0
    GENERAL_ERROR = 1
    NETWORK_ERROR = 2
    EXCEED_SERVICE_LIMIT = 4
    INVALID_APP_KEY = 100
    INVALID_USER_NAME = 101
    INVALID_PASSWORD = 102
    INVALID_TOKEN = 104
    USER_ALREADY_LOGIN = 200
    USER_NOT_LOGIN = 201
    USER_AUTHENTICATION_FAILED = 202
    USER_ALREADY_EXIST = 203
    USER_NOT_FOUND = 204
    USER_ILLEGAL_ARGUMENT = 205
    USER_LOGIN_ANOTHER_DEVICE = 206
    USER_REMOVED = 207
    USER_REG_FAILED = 208
    PUSH_UPDATECONFIGS_FAILED = 209
    USER_PERMISSION_DENIED = 210
    USER_BIND_ANOTHER_DEVICE = 213
    USER_LOGIN_TOO_MANY_DEVICES = 214
    USER_MUTED = 215
    USER_KICKED_BY_CHANGE_PASSWORD = 216
    USER_KICKED_BY_OTHER_DEVICE = 217
    USER_NOT_FRIEND = 221
    SERVER_NOT_REACHABLE = 300
    SERVER_TIMEOUT = 301
    SERVER_BUSY = 302
    SERVER_UNKNOWN_ERROR = 303
    SERVER_GET_DNSLIST_FAILED = 304
    SERVER_SERVICE_RESTRICTED = 305
    FILE_NOT_FOUND = 400
    FILE_INVALID = 401
    FILE_UPLOAD_FAILED = 402
    FILE_DOWNLOAD_FAILED = 403
    FILE_DELETE_FAILED = 404
    FILE_TOO_LARGE = 405
    MESSAGE_INVALID = 500
    MESSAGE_SEND_TRAFFIC_LIMIT = 502
    MESSAGE_RECALL_TIME_LIMIT = 504
    SERVICE_NOT_ENABLED = 505
    MESSAGE_EXPIRED = 506
    MESSAGE_ILLEGAL_WHITELIST = 507
    GROUP_INVALID_ID = 600
    GROUP_ALREADY_JOINED = 601
    GROUP_NOT_JOINED = 602
    GROUP_PERMISSION_DENIED = 603
    GROUP_MEMBERS_FULL = 604
    GROUP_NOT_EXIST = 605
    CHATROOM_INVALID_ID = 700
    CHATROOM_ALREADY_JOINED = 701
    CHATROOM_NOT_JOINED = 702
    CHATROOM_PERMISSION_DENIED = 703
    CHATROOM_MEMBERS_FULL = 704
    CHATROOM_NOT_EXIST = 705
    USERINFO_USERCOUNT_EXCEED = 900
    USERINFO_DATALENGTH_EXCEED = 901
    TRANSLATE_INVALID_PARAMS = 903
    TRANSLATE_FAIL = 904
    TRANSLATE_NOT_INIT = 905
    CONTACT_ADD_FAILED = 1000
    CONTACT_REACH_LIMIT = 1001
    CONTACT_REACH_LIMIT_PEER = 1002
    PRESENCE_PARAM_LENGTH_EXCEED = 1100
    TRANSLATE_PARAM_INVALID = 1110
    TRANSLATE_SERVICE_NOT_ENABLE = 1111
    TRANSLATE_USAGE_LIMIT = 1112
    TRANSLATE_MESSAGE_FAIL = 1113
    REACTION_REACH_LIMIT = 1300
    REACTION_HAS_BEEN_OPERATED = 1301
    REACTION_OPERATION_IS_ILLEGAL = 1302
    THREAD_NOT_EXIST = 1400
    THREAD_ALREADY_EXIST = 1401
    THREAD_CREATE_MESSAGE_ILLEGAL = 1402
    PUSH_NOT_SUPPORT = 1500
    PUSH_BIND_FAILED = 1501
    PUSH_UNBIND_FAILED = 1502

    @property
    def description(self) -> str:
        """A one-line explanation of the code, in kibitz's own words."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS: Final[dict[ErrorCode, str]] = {
    ErrorCode.EM_NO_ERROR: "The operation succeeded.",
    ErrorCode.GENERAL_ERROR: "Something failed and no more specific code applies.",
    ErrorCode.NETWORK_ERROR: "The connection to the server broke or could not be used.",
    ErrorCode.EXCEED_SERVICE_LIMIT: "A quota or size limit of the service was exceeded.",
    ErrorCode.INVALID_APP_KEY: "No app is known under this app key (org#app).",
    ErrorCode.INVALID_USER_NAME: "The username is empty or not of the allowed form.",
    ErrorCode.INVALID_PASSWORD: "The password is empty or does not match the user.",
    ErrorCode.INVALID_TOKEN: "The token is empty, malformed or its signature does not verify.",
    ErrorCode.USER_ALREADY_LOGIN: "This client is already logged in; log out first.",
    ErrorCode.USER_NOT_LOGIN: "The call needs a logged-in client.",
    ErrorCode.USER_AUTHENTICATION_FAILED: "Credentials refused, e.g. an expired token.",
    ErrorCode.USER_ALREADY_EXIST: "A user with this username already exists in the app.",
    ErrorCode.USER_NOT_FOUND: "No user with this username exists in the app.",
    ErrorCode.USER_ILLEGAL_ARGUMENT: "An argument about a user is missing or invalid.",
    ErrorCode.USER_LOGIN_ANOTHER_DEVICE: "Logged out: the account logged in elsewhere.",
    ErrorCode.USER_REMOVED: "Logged out because the account was deleted.",
    ErrorCode.USER_REG_FAILED: "Registering the user failed.",
    ErrorCode.PUSH_UPDATECONFIGS_FAILED: "Updating the push configuration failed.",
    ErrorCode.USER_PERMISSION_DENIED: "Not allowed, e.g. a deactivated account.",
    ErrorCode.USER_BIND_ANOTHER_DEVICE: "The account is bound to another device.",
    ErrorCode.USER_LOGIN_TOO_MANY_DEVICES: "Already logged in on the most devices allowed.",
    ErrorCode.USER_MUTED: "The user is muted and cannot send here.",
    ErrorCode.USER_KICKED_BY_CHANGE_PASSWORD: "Logged out because the account's password changed.",
    ErrorCode.USER_KICKED_BY_OTHER_DEVICE: "Logged out by another own device or an admin.",
    ErrorCode.USER_NOT_FRIEND: "The peer is not a contact and the app requires one.",
    ErrorCode.SERVER_NOT_REACHABLE: "The server could not be reached.",
    ErrorCode.SERVER_TIMEOUT: "The server did not answer in time.",
    ErrorCode.SERVER_BUSY: "The server is busy or the call was repeated too quickly.",
    ErrorCode.SERVER_UNKNOWN_ERROR: "The server failed in an unexpected way.",
    ErrorCode.SERVER_GET_DNSLIST_FAILED: "The server address list could not be fetched.",
    ErrorCode.SERVER_SERVICE_RESTRICTED: "The app's service is restricted.",
    ErrorCode.FILE_NOT_FOUND: "The file does not exist.",
    ErrorCode.FILE_INVALID: "The file is not valid.",
    ErrorCode.FILE_UPLOAD_FAILED: "Uploading the file failed.",
    ErrorCode.FILE_DOWNLOAD_FAILED: "Downloading the file failed.",
    ErrorCode.FILE_DELETE_FAILED: "Deleting the file failed.",
    ErrorCode.FILE_TOO_LARGE: "The file is larger than allowed.",
    ErrorCode.MESSAGE_INVALID: "Invalid message: no recipient or bad content.",
    ErrorCode.MESSAGE_SEND_TRAFFIC_LIMIT: "Too many messages were sent too quickly.",
    ErrorCode.MESSAGE_RECALL_TIME_LIMIT: "The message is too old to be recalled.",
    ErrorCode.SERVICE_NOT_ENABLED: "The feature is not enabled for this app.",
    ErrorCode.MESSAGE_EXPIRED: "The message has expired.",
    ErrorCode.MESSAGE_ILLEGAL_WHITELIST: "All muted; the sender is not allow-listed.",
    ErrorCode.GROUP_INVALID_ID: "The group id is not valid.",
    ErrorCode.GROUP_ALREADY_JOINED: "The user is already a member of the group.",
    ErrorCode.GROUP_NOT_JOINED: "The user is not a member of the group.",
    ErrorCode.GROUP_PERMISSION_DENIED: "The user lacks the group permission this needs.",
    ErrorCode.GROUP_MEMBERS_FULL: "The group has reached its member limit.",
    ErrorCode.GROUP_NOT_EXIST: "The group does not exist.",
    ErrorCode.CHATROOM_INVALID_ID: "The chat room id is not valid.",
    ErrorCode.CHATROOM_ALREADY_JOINED: "The user is already in the chat room.",
    ErrorCode.CHATROOM_NOT_JOINED: "The user is not in the chat room.",
    ErrorCode.CHATROOM_PERMISSION_DENIED: "The user lacks the chat room permission this needs.",
    ErrorCode.CHATROOM_MEMBERS_FULL: "The chat room has reached its member limit.",
    ErrorCode.CHATROOM_NOT_EXIST: "The chat room does not exist.",
    ErrorCode.USERINFO_USERCOUNT_EXCEED: "Too many users were asked for at once.",
    ErrorCode.USERINFO_DATALENGTH_EXCEED: "The user attributes are larger than allowed.",
    ErrorCode.TRANSLATE_INVALID_PARAMS: "The translation request is not valid.",
    ErrorCode.TRANSLATE_FAIL: "The translation failed.",
    ErrorCode.TRANSLATE_NOT_INIT: "Translation is not set up.",
    ErrorCode.CONTACT_ADD_FAILED: "Adding the contact failed.",
    ErrorCode.CONTACT_REACH_LIMIT: "The inviter has the maximum number of contacts.",
    ErrorCode.CONTACT_REACH_LIMIT_PEER: "The invitee has the maximum number of contacts.",
    ErrorCode.PRESENCE_PARAM_LENGTH_EXCEED: "A presence parameter is longer than allowed.",
    ErrorCode.TRANSLATE_PARAM_INVALID: "A translation parameter is not valid.",
    ErrorCode.TRANSLATE_SERVICE_NOT_ENABLE: "Translation is not enabled for this app.",
    ErrorCode.TRANSLATE_USAGE_LIMIT: "The translation quota is used up.",
    ErrorCode.TRANSLATE_MESSAGE_FAIL: "Translating the message failed.",
    ErrorCode.REACTION_REACH_LIMIT: "The message carries the maximum number of reactions.",
    ErrorCode.REACTION_HAS_BEEN_OPERATED: "The user already added this reaction.",
    ErrorCode.REACTION_OPERATION_IS_ILLEGAL: "The user may not change this reaction.",
    ErrorCode.THREAD_NOT_EXIST: "The thread does not exist.",
    ErrorCode.THREAD_ALREADY_EXIST: "A thread already exists for this message.",
    ErrorCode.THREAD_CREATE_MESSAGE_ILLEGAL: "A thread cannot be created from this message.",
    ErrorCode.PUSH_NOT_SUPPORT: "The push vendor is not supported.",
    ErrorCode.PUSH_BIND_FAILED: "Binding the push token failed.",
    ErrorCode.PUSH_UNBIND_FAILED: "Unbinding the push token failed.",
}


class ChatError(Exception):
    """The failure of an operation, carrying the ``ErrorCode`` that names it.

    Raised by the domain, translated at each edge (REST JSON, msync status, SDK) and
    raised again, with the same code, by the Python SDK.
    """

    def __init__(self, code: ErrorCode, description: str | None = None) -> None:
        self.code = ErrorCode(code)
        self.description = description if description is not None else self.code.description
        super().__init__(self.description)

    def __repr__(self) -> str:
        return f"ChatError({self.code.name}, {self.description!r})"

    def __str__(self) -> str:
        return f"{self.code.name} ({int(self.code)}): {self.description}"
