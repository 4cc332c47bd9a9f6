"""Group events: each ``Meta{ns=MUC}`` the server sends (a ``MUCBody``) as a ``GroupEvent``
named like the official Web SDK's ``onGroupEvent`` operation::

    class Watcher:
        def on_group_event(self, event: GroupEvent) -> None:
            if event.operation == "directJoined":
                print(f"{event.from_user} added me to {event.group_id}")

    client.groups.add_group_listener(Watcher())
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from kibitz.protocol._msync import FrameError, decode_payload, pb

__all__ = ["OPERATIONS", "GroupEvent", "GroupListener", "group_event_from_meta"]

Op = pb.MUCBody

# MUCBody.Operation → the Web SDK's onGroupEvent ``operation`` (its own table, by number);
# the few it reports only through onGroupChange keep that callback's ``type``.
OPERATIONS: Final[Mapping[int, str]] = {
    Op.CREATE: "create",
    Op.DESTROY: "destroy",
    Op.JOIN: "join",
    Op.LEAVE: "leave",
    Op.APPLY: "requestToJoin",
    Op.APPLY_ACCEPT: "acceptRequest",
    Op.APPLY_DECLINE: "joinPublicGroupDeclined",
    Op.INVITE: "inviteToJoin",
    Op.INVITE_ACCEPT: "acceptInvite",
    Op.INVITE_DECLINE: "rejectInvite",
    Op.KICK: "removeMember",
    Op.GET_BLACKLIST: "getBlackList",
    Op.BAN: "ban",
    Op.ALLOW: "unblockMember",
    Op.UPDATE: "updateInfo",
    Op.BLOCK: "block",
    Op.UNBLOCK: "unblock",
    Op.PRESENCE: "memberPresence",
    Op.ABSENCE: "memberAbsence",
    Op.DIRECT_JOINED: "directJoined",
    Op.ASSIGN_OWNER: "changeOwner",
    Op.ADD_ADMIN: "setAdmin",
    Op.REMOVE_ADMIN: "removeAdmin",
    Op.ADD_MUTE: "muteMember",
    Op.REMOVE_MUTE: "unmuteMember",
    Op.UPDATE_ANNOUNCEMENT: "updateAnnouncement",
    Op.DELETE_ANNOUNCEMENT: "deleteAnnouncement",
    Op.UPLOAD_FILE: "uploadFile",
    Op.DELETE_FILE: "deleteFile",
    Op.ADD_USER_WHITE_LIST: "addUserToAllowlist",
    Op.REMOVE_USER_WHITE_LIST: "removeAllowlistMember",
    Op.BAN_GROUP: "muteAllMembers",
    Op.REMOVE_BAN_GROUP: "unmuteAllMembers",
    Op.DISABLE_GROUP: "disableGroup",
    Op.ABLE_GROUP: "enableGroup",
    Op.GROUP_MEMBER_METADATA_UPDATE: "memberAttributesUpdate",
}


@dataclass(frozen=True, slots=True)
class GroupEvent:
    """Something happened in a group (or to me about a group).

    Attributes:
        operation: The Web SDK's name: ``directJoined``, ``memberPresence``,
            ``memberAbsence``, ``removeMember``, ``destroy``, ``updateInfo``,
            ``inviteToJoin``, ``requestToJoin``, ``acceptRequest``, ``muteMember`` …;
            ``"unknown"`` for an operation this SDK has no name for (see ``code``).
        group_id: The group.
        from_user: Who acted (the one who joined or left, for presence and absence).
        to_users: Whom it is about (the one added, removed, invited, muted …).
        reason: The applicant's message, a decline's reason …
        group_name: The group's name, when the server says it.
        member_count: Members after a join or a leave, when the server says it.
        detail: ``updateInfo``: the changed settings (``name``, ``description``,
            ``public``, ``members_only``, ``max_users``, ``last_modified`` …).
        mute_expires: ``muteMember``: username → when the mute ends (epoch ms; -1 never).
        code: The ``MUCBody`` operation number.
        timestamp: Server time of the event, in milliseconds.
        event_id: The server's id of the event.
    """

    operation: str
    group_id: str
    from_user: str = ""
    to_users: tuple[str, ...] = ()
    reason: str = ""
    group_name: str = ""
    member_count: int | None = None
    detail: Mapping[str, object] = field(default_factory=dict)
    mute_expires: Mapping[str, int] = field(default_factory=dict)
    code: int = -1
    timestamp: int = 0
    event_id: str = ""

    def __hash__(self) -> int:  # ``detail`` is a dict: hash the identifying fields only
        return hash((self.event_id, self.operation, self.group_id, self.timestamp))


class GroupListener(Protocol):
    """Receives group events. The method is optional, and may be ``async``."""

    def on_group_event(self, event: GroupEvent) -> object:
        """One group event, in the order the server committed them."""


def _json_object(text: str) -> dict[str, object]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def group_event_from_meta(meta: pb.Meta) -> GroupEvent | None:
    """A pulled MUC ``Meta`` as a ``GroupEvent``; ``None`` for anything else (other
    namespaces, chat-room and thread events, undecodable payloads)."""
    if meta.ns != pb.Meta.MUC:
        return None
    try:
        body = decode_payload(pb.MUCBody, meta.payload)
    except FrameError:
        return None
    if body.is_chatroom or body.is_thread:
        return None
    group_id = body.muc_id.name or meta.to_jid.name
    if not group_id:
        return None
    mutes = _json_object(body.ext).get("user_mute_time")
    known = body.HasField("operation")  # proto2: a number it does not know reads as 0
    return GroupEvent(
        operation=OPERATIONS.get(body.operation, "unknown") if known else "unknown",
        group_id=group_id,
        from_user=body.from_jid.name or meta.from_jid.name,
        to_users=tuple(j.name for j in body.to if j.name),
        reason=body.reason,
        group_name=body.muc_name,
        member_count=body.muc_member_count if body.HasField("muc_member_count") else None,
        detail=_json_object(body.event_info.ext),
        mute_expires=(
            {str(k): int(v) for k, v in mutes.items() if isinstance(v, int | float)}
            if isinstance(mutes, dict)
            else {}
        ),
        code=int(body.operation) if known else -1,
        timestamp=meta.timestamp,
        event_id=str(meta.id),
    )
