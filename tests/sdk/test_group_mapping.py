"""The SDK's reading of group answers without a server: REST refusals on group routes →
the group ErrorCodes (as the Web SDK reads them, by URL and description), and MUC Metas →
``GroupEvent``s named like the Web SDK's onGroupEvent operations."""

from __future__ import annotations

import pytest

from kibitz import ErrorCode, GroupEvent
from kibitz.protocol._msync import GROUP_DOMAIN, jid, pb
from kibitz.sdk._codes import rest_error
from kibitz.sdk._group_events import group_event_from_meta


def body(error: str, description: str) -> dict[str, str]:
    return {"error": error, "error_description": description}


@pytest.mark.parametrize(
    ("status", "error", "description", "code"),
    [
        (403, "forbidden_op", "users [bob] are not members of this group!", "GROUP_NOT_JOINED"),
        (
            403,
            "forbidden_op",
            "invite users to join group failed: bob already in group 1",
            "GROUP_ALREADY_JOINED",
        ),
        (403, "forbidden_op", "group member list is full!", "GROUP_MEMBERS_FULL"),
        (403, "forbidden_op", "only the owner or an admin can do this", "GROUP_PERMISSION_DENIED"),
        (404, "resource_not_found", "do not find this group: 123", "GROUP_NOT_EXIST"),
        (400, "illegal_argument", "group ID illegal, please check it: 'x'", "GROUP_INVALID_ID"),
        (404, "service_resource_not_found", "username nobody doesn't exist!", "USER_NOT_FOUND"),
        (
            401,
            "unauthorized",
            "A user token acts only for its own user.",
            "USER_AUTHENTICATION_FAILED",
        ),
        (400, "illegal_argument", "'groupname' is required.", "USER_ILLEGAL_ARGUMENT"),
    ],
)
def test_group_route_refusals(status: int, error: str, description: str, code: str) -> None:
    for path in ("/chatgroups/123/users", "/chatgroups", "/sdk/chatgroups/1/mute/bob"):
        assert rest_error(status, body(error, description), path).code is ErrorCode[code]


def test_other_routes_keep_their_codes() -> None:
    denied = body("forbidden_op", "users [bob] are not members of this group!")
    assert rest_error(403, denied, "/users/bob/joined_chatgroups").code is (
        ErrorCode.USER_PERMISSION_DENIED
    )
    assert rest_error(403, denied).code is ErrorCode.USER_PERMISSION_DENIED


def meta(op: int, **fields: object) -> pb.Meta:
    muc = pb.MUCBody(operation=op, **fields)  # type: ignore[arg-type]
    muc.muc_id.CopyFrom(jid("acme#chat", "42", GROUP_DOMAIN))
    muc.from_jid.CopyFrom(jid("acme#chat", "alice"))
    muc.to.append(jid("acme#chat", "bob"))
    return pb.Meta(id=7, ns=pb.Meta.MUC, timestamp=1000, payload=muc.SerializeToString())


@pytest.mark.parametrize(
    ("op", "name"),
    [
        (pb.MUCBody.CREATE, "create"),
        (pb.MUCBody.DIRECT_JOINED, "directJoined"),
        (pb.MUCBody.PRESENCE, "memberPresence"),
        (pb.MUCBody.ABSENCE, "memberAbsence"),
        (pb.MUCBody.KICK, "removeMember"),
        (pb.MUCBody.DESTROY, "destroy"),
        (pb.MUCBody.UPDATE, "updateInfo"),
        (pb.MUCBody.INVITE, "inviteToJoin"),
        (pb.MUCBody.APPLY, "requestToJoin"),
        (pb.MUCBody.APPLY_ACCEPT, "acceptRequest"),
        (pb.MUCBody.ALLOW, "unblockMember"),
        (pb.MUCBody.BAN_GROUP, "muteAllMembers"),
    ],
)
def test_operations_are_named_like_the_web_sdk(op: int, name: str) -> None:
    event = group_event_from_meta(meta(op))
    assert event == GroupEvent(name, "42", "alice", ("bob",), code=op, timestamp=1000, event_id="7")


def test_event_details_and_what_is_not_a_group_event() -> None:
    update = meta(pb.MUCBody.UPDATE, muc_name="team", muc_member_count=3)
    muc = pb.MUCBody.FromString(update.payload)
    muc.event_info.ext = '{"name":"team","last_modified":5}'
    muc.ext = '{"user_mute_time":{"bob":99}}'
    update.payload = muc.SerializeToString()
    event = group_event_from_meta(update)
    assert event is not None
    assert (event.group_name, event.member_count) == ("team", 3)
    assert dict(event.detail) == {"name": "team", "last_modified": 5}
    assert dict(event.mute_expires) == {"bob": 99}
    room = meta(pb.MUCBody.PRESENCE, is_chatroom=True)
    assert group_event_from_meta(room) is None
    assert group_event_from_meta(pb.Meta(ns=pb.Meta.CHAT, payload=b"")) is None
    assert group_event_from_meta(pb.Meta(ns=pb.Meta.MUC, payload=b"\xff\xff")) is None
    unknown = pb.Meta(ns=pb.Meta.MUC, payload=b"\n\x04\x12\x0242\x10\x63")  # op 99
    event = group_event_from_meta(unknown)
    assert event is not None and (event.operation, event.code) == ("unknown", -1)
