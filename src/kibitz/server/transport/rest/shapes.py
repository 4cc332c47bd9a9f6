"""The JSON the REST API answers with (and the bodies it reads by hand), as pydantic models
for the OpenAPI document only.

Nothing here parses or builds a request: the routes build their answers with
``envelope.ok`` and read their bodies with ``deps.read_json`` / ``parse_model`` (so that
malformed JSON keeps Agora's error body). These models say the same thing in JSON Schema,
for schemathesis and client generators; ``tests/reliability/test_openapi.py`` checks the
served answers against them. A field that may be absent (and is never ``null``) is typed
``X | SkipJsonSchema[None] = None``.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import SkipJsonSchema

from kibitz.server.domain.accounts import MAX_BATCH

from .schemas import (
    ClientCredentialsGrant,
    InheritGrant,
    NewPassword,
    PasswordGrant,
    UserSpec,
)

__all__ = [
    "AgoraGrant",
    "AppToken",
    "BatchStatusEnvelope",
    "DevicesEnvelope",
    "Envelope",
    "ErrorBody",
    "ExchangedAppToken",
    "MessageSend",
    "MessagesEnvelope",
    "NewPasswordBody",
    "RegisterEnvelope",
    "ResultEnvelope",
    "ServerDocument",
    "StatusEnvelope",
    "TokenExpiresEnvelope",
    "TokenGrant",
    "TokenReply",
    "UserEnvelope",
    "UserPage",
    "UserToken",
    "UsersBody",
]

# Agora's rule (domain/accounts.py): a-z, 0-9, "_", "-", "."; 1-64 of them; not only dots.
USERNAME_PATTERN: Final = r"^(?!\.+$)[a-z0-9_.-]{1,64}$"
# (json_schema_extra: pydantic-core's regex engine has no look-ahead; nothing validates here)
Username = Annotated[str, Field(json_schema_extra={"pattern": USERNAME_PATTERN})]
Password = Annotated[
    str, Field(min_length=1, max_length=64, description="At most 64 bytes of UTF-8")
]
Ttl = Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=r"^\s*[0-9]+\s*$")] | None
TTL_DESCRIPTION: Final = (
    "Seconds (a number or a string of digits); 0: never expires; null or absent: the default"
)
Presence = Literal["online", "offline"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(_Doc):
    """Every failure: Agora's error body (errors.py)."""

    error: str = Field(description="Agora's error name, e.g. illegal_argument, json_parse")
    exception: str = Field(description="A Java-style exception name")
    timestamp: int = Field(description="Server time, epoch ms")
    duration: int = Field(description="Milliseconds spent on the request")
    error_description: str


class UserEntity(_Doc):
    uuid: str
    type: Literal["user"]
    created: int
    modified: int
    username: str
    activated: bool
    nickname: str | SkipJsonSchema[None] = None


class Envelope(_Doc):
    """Agora's success envelope (envelope.py); every success is HTTP 200."""

    action: str
    application: str = Field(description="The app's uuid")
    path: str
    uri: str
    timestamp: int
    duration: int
    organization: str
    applicationName: str
    params: dict[str, list[str]] | SkipJsonSchema[None] = None


class RegisterFailure(_Doc):
    username: str
    registerUserFailReason: str


class RegisterEnvelope(Envelope):
    entities: list[UserEntity]
    data: list[RegisterFailure] | SkipJsonSchema[None] = Field(
        default=None, description="The users of a batch that were not created, and why"
    )


class UserEnvelope(Envelope):
    entities: list[UserEntity]
    count: int | SkipJsonSchema[None] = None


class UserPage(Envelope):
    entities: list[UserEntity]
    count: int
    cursor: str | SkipJsonSchema[None] = Field(
        default=None, description="Opaque; absent on the last page"
    )


class Result(_Doc):
    result: bool


class ResultEnvelope(Envelope):
    entities: list[Any] = Field(max_length=0)
    data: Result


class StatusEnvelope(Envelope):
    entities: list[Any] = Field(max_length=0)
    data: dict[str, Presence]
    count: int


class BatchStatusEnvelope(Envelope):
    data: list[dict[str, Presence]]


class Device(_Doc):
    res: str
    device_uuid: str
    device_name: str


class DevicesEnvelope(Envelope):
    entities: list[Any] = Field(max_length=0)
    data: list[Device]


class TokenExpiresEnvelope(Envelope):
    data: Result
    expire_timestamp: int = Field(description="When the token expires, epoch ms")


class MessagesEnvelope(Envelope):
    data: dict[str, str] = Field(description="Each recipient → the id of its message")


# -- POST /token ---------------------------------------------------------------------------


class ClientCredentialsBody(ClientCredentialsGrant):
    grant_type: Literal["client_credentials"]
    ttl: Ttl = Field(default=None, description=TTL_DESCRIPTION)  # type: ignore[assignment]


class PasswordBody(PasswordGrant):
    grant_type: Literal["password"]
    ttl: Ttl = Field(default=None, description=TTL_DESCRIPTION)  # type: ignore[assignment]


class AgoraGrant(BaseModel):
    """Exchanges the 007 app token sent as Bearer for an app token."""

    grant_type: Literal["agora"]


class InheritBody(InheritGrant):
    """A user token for any user; needs an app credential as Bearer."""

    grant_type: Literal["inherit"]
    username: Username
    ttl: Ttl = Field(default=None, description=TTL_DESCRIPTION)  # type: ignore[assignment]


class TokenGrant(
    RootModel[
        Annotated[
            ClientCredentialsBody | PasswordBody | AgoraGrant | InheritBody,
            Field(discriminator="grant_type"),
        ]
    ]
):
    pass


class AppToken(_Doc):
    access_token: str
    expires_in: int = Field(description="Seconds")
    application: str = Field(description="The app's uuid")


class UserToken(_Doc):
    access_token: str
    expires_in: int = Field(description="Seconds")
    user: UserEntity


class ExchangedAppToken(_Doc):
    access_token: str
    expire_timestamp: int = Field(description="Epoch ms")
    expires_in: int = Field(description="Seconds")


class TokenReply(RootModel[AppToken | UserToken | ExchangedAppToken]):
    pass


# -- POST /users ---------------------------------------------------------------------------


class NewUserBody(UserSpec):
    username: Username
    password: Password | None = None
    nickname: Annotated[str, Field(max_length=100)] | None = None


class UsersBody(
    RootModel[NewUserBody | Annotated[list[NewUserBody], Field(min_length=1, max_length=MAX_BATCH)]]
):
    """One user (an object) or a batch (an array)."""


class NewPasswordBody(NewPassword):
    newpassword: Password


# -- POST /messages/users ------------------------------------------------------------------


class TextPayload(BaseModel):
    msg: str = Field(min_length=1)


class CmdPayload(BaseModel):
    action: str = Field(min_length=1)


_DECIMAL: Final = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"


class LocationPayload(BaseModel):
    """Degrees, as JSON numbers or decimal strings (Easemob's examples send strings)."""

    lat: Annotated[float, Field(ge=-90, le=90)] | Annotated[str, Field(pattern=_DECIMAL)]
    lng: Annotated[float, Field(ge=-180, le=180)] | Annotated[str, Field(pattern=_DECIMAL)]
    addr: str | None = None


class CustomPayload(BaseModel):
    customEvent: Annotated[str, Field(pattern=r"^[a-zA-Z0-9\-_/.]{0,32}$")] | None = None
    customExts: dict[str, str | int | float | bool] | None = Field(
        default=None, max_length=16, description="At most 16; with customEvent, or instead of it"
    )


class _Send(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    sender: str | SkipJsonSchema[None] = Field(
        default=None, alias="from", min_length=1, max_length=64, description="Default: admin"
    )
    to: Annotated[list[Username], Field(min_length=1, max_length=600)] | Username
    ext: dict[str, Any] | SkipJsonSchema[None] = None
    # Read as flags (anything else means "no"), so any JSON value is accepted.
    routetype: Any = Field(
        default=None, description='"ROUTE_ONLINE": deliver to online devices only'
    )
    sync_device: Any = Field(
        default=None, description="true: also copy the message to the sender's own devices"
    )


class TextMessage(_Send):
    type: Literal["txt"]
    body: TextPayload


class CmdMessage(_Send):
    type: Literal["cmd"]
    body: CmdPayload


class LocationMessage(_Send):
    type: Literal["loc"]
    body: LocationPayload


class CustomMessage(_Send):
    type: Literal["custom"]
    body: CustomPayload


# Attachments (agora-rest.md §3.2): url is the upload's absolute /chatfiles/{uuid} URL.
_URL = r"^[hH][tT][tT][pP][sS]?://[^/\s]+(/\S*)?$"
_Whole = Annotated[int, Field(ge=0, le=2**31 - 1)]


class _FilePayload(BaseModel):
    url: str = Field(pattern=_URL, max_length=2048)
    secret: str | None = None
    filename: str | None = None
    file_length: _Whole | None = None


class ImageSize(BaseModel):
    width: Annotated[float, Field(ge=0, le=100_000)] = 0
    height: Annotated[float, Field(ge=0, le=100_000)] = 0


class ImagePayload(_FilePayload):
    size: ImageSize | None = None


class VoicePayload(_FilePayload):
    length: _Whole | None = Field(default=None, description="Seconds")


class VideoPayload(VoicePayload):
    thumb: Annotated[str, Field(pattern="^$|" + _URL, max_length=2048)] | None = None
    thumb_secret: str | None = None


class ImageMessage(_Send):
    type: Literal["img"]
    body: ImagePayload


class VoiceMessage(_Send):
    type: Literal["audio"]
    body: VoicePayload


class VideoMessage(_Send):
    type: Literal["video"]
    body: VideoPayload


class FileMessage(_Send):
    type: Literal["file"]
    body: _FilePayload


class MessageSend(
    RootModel[
        Annotated[
            TextMessage
            | CmdMessage
            | LocationMessage
            | CustomMessage
            | ImageMessage
            | VoiceMessage
            | VideoMessage
            | FileMessage,
            Field(discriminator="type"),
        ]
    ]
):
    pass


# -- GET /easemob/server.json --------------------------------------------------------------


class Host(_Doc):
    protocol: str
    domain: str
    ip: str
    port: str
    channel: str


class Hosts(_Doc):
    hosts: list[Host]


class ServerDocument(_Doc):
    rest: Hosts
    msync_wx: Hosts = Field(alias="msync-wx")
    app_key: str
    enableReportLogs: str
    enableDataReport: str
    uploadinparts_enable: str
