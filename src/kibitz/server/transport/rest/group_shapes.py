"""What the group routes take and answer, for the OpenAPI document only: the routes read
their bodies by hand (routes/groups.py), so Agora's error bodies stay theirs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from .shapes import USERNAME_PATTERN, Envelope

__all__ = [
    "AnnouncementBody",
    "ApplyBody",
    "ApplyVerifyBody",
    "AttributesBody",
    "AttributesQuery",
    "GroupCreateBody",
    "GroupDataEnvelope",
    "GroupModifyBody",
    "InviteVerifyBody",
    "MuteBody",
    "NewAdminBody",
    "UsernamesBody",
]

Username = Field(pattern=USERNAME_PATTERN, max_length=64)


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class GroupCreateBody(_Body):
    groupname: str = Field(max_length=128)
    owner: str | SkipJsonSchema[None] = Field(
        default=None, description="Required with an app token; a user token names the owner"
    )
    desc: str | SkipJsonSchema[None] = Field(default=None, max_length=512)
    description: str | SkipJsonSchema[None] = Field(default=None, max_length=512)
    public: bool = False
    membersonly: bool = False
    allowinvites: bool = False
    invite_need_confirm: bool = False
    maxusers: int = Field(default=200, ge=1, le=100_000)
    members: list[str] = Field(default_factory=list, max_length=60)
    custom: str = Field(default="", max_length=8 * 1024)
    avatar: str = ""


class GroupModifyBody(_Body):
    groupname: str | SkipJsonSchema[None] = Field(default=None, max_length=128)
    description: str | SkipJsonSchema[None] = Field(default=None, max_length=512)
    maxusers: int | SkipJsonSchema[None] = Field(default=None, ge=1, le=100_000)
    membersonly: bool | SkipJsonSchema[None] = None
    allowinvites: bool | SkipJsonSchema[None] = None
    public: bool | SkipJsonSchema[None] = None
    invite_need_confirm: bool | SkipJsonSchema[None] = None
    custom: str | SkipJsonSchema[None] = Field(default=None, max_length=8 * 1024)
    avatar: str | SkipJsonSchema[None] = None
    newowner: str | SkipJsonSchema[None] = Field(
        default=None, description="Transfer the group to this member (alone in the body)"
    )


class UsernamesBody(_Body):
    usernames: list[str] = Field(min_length=1, max_length=60)


class NewAdminBody(_Body):
    newadmin: str


class GroupDataEnvelope(Envelope):
    """Agora's envelope; ``data`` as each route's docstring in the module says."""

    data: Any
    count: int | SkipJsonSchema[None] = None
    cursor: str | SkipJsonSchema[None] = None


class MuteBody(_Body):
    usernames: list[str] | str = Field(description="≤ 60 members, or one")
    mute_duration: int = Field(description="Milliseconds; -1: until unmuted")


class AnnouncementBody(_Body):
    announcement: str = Field(max_length=512)


class ApplyBody(_Body):
    message: str = ""


class ApplyVerifyBody(_Body):
    applicant: str
    verifyResult: bool
    reason: str = ""


class InviteVerifyBody(_Body):
    invitee: str
    verifyResult: bool


class AttributesBody(_Body):
    metaData: dict[str, str] = Field(description="key (≤ 16 B) → value (≤ 512 B); '' removes")


class AttributesQuery(_Body):
    targets: list[str] = Field(min_length=1, max_length=10)
    properties: list[str] = Field(default_factory=list, description="[] or absent: all")
