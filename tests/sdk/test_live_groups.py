"""Groups through the Python SDK against a real ``kibitz serve``: REST calls with the user's
own token, group events through the group listener, group messages over msync, and the
error codes each refusal carries."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest

from kibitz import (
    AdminClient,
    ChatClient,
    ChatError,
    ChatMessage,
    ChatType,
    ErrorCode,
    GroupEvent,
    GroupMember,
    GroupRole,
    JoinedGroup,
)
from tests.sdk.conftest import Clients, Live, Recorder, fresh

pytestmark = pytest.mark.anyio


class GroupRecorder(Recorder):
    """Messages and group events of one client."""

    def __init__(self) -> None:
        super().__init__()
        self.group_events: list[GroupEvent] = []

    def on_group_event(self, event: GroupEvent) -> None:
        self.group_events.append(event)
        self._note()

    @property
    def ops(self) -> list[str]:
        return [e.operation for e in self.group_events]

    def event(self, operation: str) -> GroupEvent:
        return next(e for e in self.group_events if e.operation == operation)

    async def heard(self, operation: str) -> GroupEvent:
        await self.until(lambda: operation in self.ops)
        return self.event(operation)


async def users(admin: AdminClient, *roles: str) -> list[str]:
    names = [fresh(r) for r in roles]
    await admin.register_users([(n, "pw") for n in names])
    return names


async def login(clients: Clients, live: Live, user: str) -> tuple[ChatClient, GroupRecorder]:
    """A client whose listeners are in place before login, so nothing synced is missed."""
    client, _ = clients.new(live.chat)
    rec = GroupRecorder()
    client.chat.add_message_listener(rec)
    client.groups.add_group_listener(rec)
    await client.login(user, password="pw")
    return client, rec


def group_text(gid: str, text: str) -> ChatMessage:
    return ChatMessage.text(gid, text, chat_type=ChatType.GROUP)


async def test_create_tells_members_and_reads_back(
    live: Live, clients: Clients, admin: AdminClient
) -> None:
    alice, bob, carol = await users(admin, "alice", "bob", "carol")
    a, a_rec = await login(clients, live, alice)
    b, b_rec = await login(clients, live, bob)
    gid = await a.groups.create("team", members=[bob, carol], description="our corner")
    joined = await b_rec.heard("directJoined")
    assert (joined.group_id, joined.from_user, joined.to_users) == (gid, alice, (bob,))
    assert joined.group_name == "team" and joined.event_id.isdigit()
    info = await b.groups.get_info(gid)
    assert (info.group_id, info.name, info.owner, info.description) == (
        gid,
        "team",
        alice,
        "our corner",
    )
    assert info.member_count == 3 and not info.public and info.created_ms > 0
    assert await a.groups.members(gid) == [
        GroupMember(alice, GroupRole.OWNER, info.created_ms),
        GroupMember(bob, GroupRole.MEMBER, info.created_ms),
        GroupMember(carol, GroupRole.MEMBER, info.created_ms),
    ]
    assert await b.groups.joined_groups() == [JoinedGroup(gid, "team", GroupRole.MEMBER)]
    assert await b.groups.is_member(gid) and not await b.groups.is_member(gid, "nobody")
    # carol was offline: the event waits for her; her leaving is heard by the others
    c, c_rec = await login(clients, live, carol)
    await c_rec.heard("directJoined")
    await c.groups.leave(gid)
    absence = await a_rec.heard("memberAbsence")
    assert (absence.from_user, absence.member_count) == (carol, 2)
    assert a_rec.ops == ["memberAbsence"]  # the creating session never heard its "create"
    await a.groups.modify(gid, name="renamed", max_users=50)
    update = await b_rec.heard("updateInfo")
    assert update.detail["name"] == "renamed" and update.detail["max_users"] == 50
    assert (await a.groups.get_info(gid)).name == "renamed"


async def test_group_messages_reach_members_but_not_the_sending_session(
    live: Live, clients: Clients, admin: AdminClient
) -> None:
    alice, bob = await users(admin, "alice", "bob")
    a, a_rec = await login(clients, live, alice)
    _, a2_rec = await login(clients, live, alice)  # alice's other device
    b, b_rec = await login(clients, live, bob)
    gid = await a.groups.create("chat", members=[bob])
    sent = await a.chat.send_message(group_text(gid, "hi team"))
    assert sent.chat_type is ChatType.GROUP and sent.msg_id
    await b_rec.until(lambda: len(b_rec.messages) == 1)
    got = b_rec.messages[0]
    assert (got.chat_type, got.to, got.sender, got.body.text, got.msg_id) == (
        ChatType.GROUP,
        gid,
        alice,
        "hi team",
        sent.msg_id,
    )
    await a2_rec.until(lambda: "hi team" in a2_rec.texts)
    reply = await b.chat.send_message(group_text(gid, "hello alice"))
    await a_rec.until(lambda: len(a_rec.messages) >= 1)
    # same queue, so an echo of "hi team" would have come first
    assert [(m.msg_id, m.to, m.chat_type) for m in a_rec.messages] == [
        (reply.msg_id, gid, ChatType.GROUP)
    ]


async def expect(code: ErrorCode, call: Awaitable[object]) -> ChatError:
    with pytest.raises(ChatError) as caught:
        await call
    assert caught.value.code is code, caught.value
    return caught.value


async def test_refusals_carry_the_group_codes(
    live: Live, clients: Clients, admin: AdminClient
) -> None:
    alice, bob, carol, dave = await users(admin, "alice", "bob", "carol", "dave")
    a, _ = await login(clients, live, alice)
    b, b_rec = await login(clients, live, bob)
    d, _ = await login(clients, live, dave)
    gid = await a.groups.create("strict", members=[bob, carol])
    await expect(ErrorCode.GROUP_NOT_JOINED, d.chat.send_message(group_text(gid, "let me")))
    await expect(ErrorCode.GROUP_NOT_EXIST, a.chat.send_message(group_text("987654321", "?")))
    await expect(ErrorCode.GROUP_NOT_EXIST, a.groups.get_info("987654321"))
    await expect(ErrorCode.GROUP_INVALID_ID, a.groups.members("not-a-group"))
    await expect(ErrorCode.GROUP_PERMISSION_DENIED, b.groups.remove_members(gid, [carol]))
    await expect(ErrorCode.GROUP_NOT_JOINED, d.groups.modify(gid, name="mine"))
    await expect(ErrorCode.GROUP_PERMISSION_DENIED, d.groups.join(gid))  # private
    await expect(ErrorCode.GROUP_ALREADY_JOINED, b.groups.join(gid))
    await expect(ErrorCode.USER_NOT_FOUND, a.groups.add_members(gid, ["nobody-here"]))
    # a muted member cannot post until unmuted
    expiry = await a.groups.mute(gid, [bob], 60_000)
    assert list(expiry) == [bob]
    await expect(ErrorCode.USER_MUTED, b.chat.send_message(group_text(gid, "hush?")))
    muted = await b_rec.heard("muteMember")
    assert muted.to_users == (bob,) and muted.mute_expires == expiry
    assert await a.groups.mutes(gid) == expiry
    await a.groups.unmute(gid, [bob])
    await b.chat.send_message(group_text(gid, "free again"))
    # everyone muted but the allow list
    await a.groups.mute_all(gid)
    await expect(ErrorCode.MESSAGE_ILLEGAL_WHITELIST, b.chat.send_message(group_text(gid, "x")))
    await a.groups.set_allowed(gid, [bob])
    assert await a.groups.allow_list(gid) == [bob]
    await b.chat.send_message(group_text(gid, "allowed"))
    await a.groups.mute_all(gid, on=False)
    # logged out: nothing to call with
    await d.logout()
    await expect(ErrorCode.USER_NOT_LOGIN, d.groups.joined_groups())


async def test_joining_asking_inviting_removing_destroying(
    live: Live, clients: Clients, admin: AdminClient
) -> None:
    alice, bob, carol, dave = await users(admin, "alice", "bob", "carol", "dave")
    a, a_rec = await login(clients, live, alice)
    b, b_rec = await login(clients, live, bob)
    c, _ = await login(clients, live, carol)
    d, d_rec = await login(clients, live, dave)
    # an open public group: joined at once, the owner hears the presence
    open_gid = await a.groups.create("open", public=True)
    assert await c.groups.join(open_gid) is True
    presence = await a_rec.heard("memberPresence")
    assert (presence.group_id, presence.from_user, presence.member_count) == (open_gid, carol, 2)
    # an approval group: an application, answered by the owner
    asked_gid = await a.groups.create("asked", public=True, approval=True, invite_need_confirm=True)
    assert await d.groups.join(asked_gid, "let me in") is False
    request = await a_rec.heard("requestToJoin")
    assert (request.group_id, request.from_user, request.reason) == (asked_gid, dave, "let me in")
    await a.groups.answer_application(asked_gid, dave, accept=True)
    assert (await d_rec.heard("acceptRequest")).group_id == asked_gid
    assert await d.groups.is_member(asked_gid)
    # an invitation that needs consent
    await a.groups.invite(asked_gid, [bob])
    invited = await b_rec.heard("inviteToJoin")
    assert (invited.group_id, invited.from_user) == (asked_gid, alice)
    await b.groups.answer_invitation(asked_gid, accept=True)
    assert (await a_rec.heard("acceptInvite")).from_user == bob
    # admins, removal and the end of the group
    await a.groups.add_admin(asked_gid, bob)
    assert await a.groups.admins(asked_gid) == [bob]
    await b.groups.remove_members(asked_gid, [dave])  # an admin may
    removed = await d_rec.heard("removeMember")
    assert (removed.group_id, removed.to_users) == (asked_gid, (dave,))
    await a.groups.destroy(asked_gid)
    assert (await b_rec.heard("destroy")).group_id == asked_gid
    await expect(ErrorCode.GROUP_NOT_EXIST, a.groups.get_info(asked_gid))


async def test_read_receipts_and_app_wide_mutes(
    live: Live, clients: Clients, admin: AdminClient
) -> None:
    alice, bob, dave = await users(admin, "alice", "bob", "dave")
    a, _ = await login(clients, live, alice)
    b, b_rec = await login(clients, live, bob)
    d, _ = await login(clients, live, dave)
    gid = await a.groups.create("receipts", members=[bob])
    sent = await a.chat.send_message(group_text(gid, "read me"))
    await b_rec.until(lambda: "read me" in b_rec.texts)
    assert sent.msg_id is not None
    await admin.update_settings(group_read_receipts=False)
    await expect(ErrorCode.SERVICE_NOT_ENABLED, b.groups.ack_read(gid, sent.msg_id))
    assert (await admin.update_settings(group_read_receipts=True))["group_read_receipts"]
    await b.groups.ack_read(gid, sent.msg_id, "seen")
    assert await a.groups.read_users(gid, sent.msg_id) == [bob]
    await expect(ErrorCode.GROUP_NOT_JOINED, d.groups.ack_read(gid, sent.msg_id))
    await expect(ErrorCode.MESSAGE_INVALID, b.groups.ack_read(gid, "1234567"))
    with pytest.raises(ChatError) as caught:
        await admin.update_settings(group_read_receipts=True, no_such_setting=1)
    assert "unknown setting no_such_setting" in str(caught.value)

    await admin.mute_user(bob, groupchat=600)
    await expect(ErrorCode.USER_MUTED, b.chat.send_message(group_text(gid, "hush")))
    await b.chat.send_message(ChatMessage.text(alice, "a 1:1 still goes"))
    await admin.mute_user(bob, groupchat=0)
    await b.chat.send_message(group_text(gid, "free"))
