"""What the group REST answers hold, as small frozen dataclasses, and the readers of
those answers (tolerant: a missing or mistyped field reads as empty, never raises)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from kibitz.protocol import ChatError, ErrorCode

__all__ = ["GroupInfo", "GroupMember", "GroupRole", "JoinedGroup"]


class GroupRole(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


@dataclass(frozen=True, slots=True)
class GroupMember:
    username: str
    role: GroupRole
    joined_ms: int | None = None


@dataclass(frozen=True, slots=True)
class JoinedGroup:
    """One of my groups, as ``joined_groups()`` lists them."""

    group_id: str
    name: str
    role: GroupRole
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """A group's details (``get_info``). ``approval``: joining needs the owner's or an
    admin's yes (Agora's ``membersonly``)."""

    group_id: str
    name: str
    owner: str
    description: str = ""
    member_count: int = 0
    max_users: int = 0
    public: bool = False
    approval: bool = False
    allow_invites: bool = False
    invite_need_confirm: bool = False
    mute_all: bool = False
    disabled: bool = False
    custom: str = ""
    avatar: str = ""
    created_ms: int = 0
    modified_ms: int = 0


def seg(value: str) -> str:
    return quote(value, safe="")


def role_of(value: object) -> GroupRole:
    try:
        return GroupRole(str(value))
    except ValueError:
        return GroupRole.MEMBER


def info_of(d: dict[str, Any]) -> GroupInfo:
    def s(key: str) -> str:
        v = d.get(key)
        return v if isinstance(v, str) else ""

    def i(key: str) -> int:
        v = d.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) else 0

    return GroupInfo(
        group_id=s("id"),
        name=s("name"),
        owner=s("owner"),
        description=s("description"),
        member_count=i("affiliations_count"),
        max_users=i("maxusers"),
        public=d.get("public") is True,
        approval=d.get("membersonly") is True,
        allow_invites=d.get("allowinvites") is True,
        invite_need_confirm=d.get("invite_need_confirm") is True,
        mute_all=d.get("mute") is True,
        disabled=d.get("disabled") is True,
        custom=s("custom"),
        avatar=s("avatar"),
        created_ms=i("created"),
        modified_ms=i("last_modified"),
    )


def member_of(d: object) -> GroupMember | None:
    if not isinstance(d, dict):
        return None
    for role in GroupRole:
        name = d.get(role.value)
        if isinstance(name, str):
            joined = d.get("joined_time")
            return GroupMember(name, role, joined if isinstance(joined, int) else None)
    return None


def data_of(body: Any) -> Any:
    return body.get("data") if isinstance(body, dict) else None


def users_of(items: Any) -> list[str]:
    """The ``user`` of each ``{result, user}`` item (one item may come bare)."""
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return []
    return [str(i["user"]) for i in items if isinstance(i, dict) and "user" in i]


def name_list(usernames: Iterable[str]) -> list[str]:
    names = [usernames] if isinstance(usernames, str) else list(usernames)
    if not names:
        raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "no usernames given")
    return names


def joined_of(g: object) -> JoinedGroup | None:
    """An item of ``/users/{me}/joined_chatgroups``."""
    if not isinstance(g, dict) or not isinstance(g.get("groupid"), str):
        return None
    name = g.get("groupname")
    return JoinedGroup(
        g["groupid"],
        name if isinstance(name, str) else "",
        role_of(g.get("permission")),
        g.get("disabled") is True,
    )


def expiries_of(data: Any) -> dict[str, int]:
    if not isinstance(data, list):
        return {}
    return {
        str(i["user"]): int(i["expire"])
        for i in data
        if isinstance(i, dict) and "user" in i and isinstance(i.get("expire"), int)
    }
