"""``client.groups``: groups over REST with the logged-in user's own token, and group events.

Every call names this device (``resource=``), as the Web SDK does, so the server does not
tell this session about its own change (other devices of the user still hear it)::

    gid = await client.groups.create("team", members=["bob", "carol"])
    await client.chat.send_message(ChatMessage.text(gid, "hi all", chat_type=ChatType.GROUP))
    await client.groups.remove_members(gid, ["carol"])

Failures are ``ChatError``s with the group codes: ``GROUP_NOT_EXIST`` (605),
``GROUP_NOT_JOINED`` (602), ``GROUP_PERMISSION_DENIED`` (603), ``GROUP_MEMBERS_FULL`` (604),
``GROUP_ALREADY_JOINED`` (601), ``USER_NOT_FOUND`` …
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from kibitz.protocol import ChatError, ErrorCode, IdGenerator
from kibitz.protocol._msync import GROUP_DOMAIN, jid, pb

from ._chat import _Seen
from ._group_events import group_event_from_meta
from ._group_models import (
    GroupInfo,
    GroupMember,
    GroupRole,
    JoinedGroup,
    data_of,
    expiries_of,
    info_of,
    joined_of,
    member_of,
    name_list,
    seg,
    users_of,
)
from ._listeners import Dispatcher

if TYPE_CHECKING:
    from ._client import ChatClient

__all__ = ["GroupInfo", "GroupManager", "GroupMember", "GroupRole", "JoinedGroup"]

PAGE: Final = 100  # the server's largest page of joined groups (and plenty of members)


class GroupManager:
    """Groups: ``client.groups.create(...)`` and friends, and group listeners.

    Example:
        >>> gid = await client.groups.create("team", members=["bob"])  # doctest: +SKIP
        >>> [m.role for m in await client.groups.members(gid)]  # doctest: +SKIP
        [<GroupRole.OWNER: 'owner'>, <GroupRole.MEMBER: 'member'>]
    """

    def __init__(self, client: ChatClient, dispatcher: Dispatcher) -> None:
        self._client = client
        self._dispatcher = dispatcher
        self._seen = _Seen()
        self._local_ids = IdGenerator(lambda: time.time_ns() // 1_000_000)  # receipts' meta ids

    # -- listeners -----------------------------------------------------------------------

    def add_group_listener(self, listener: object) -> None:
        """Register an object with an ``on_group_event(event)`` method (``GroupListener``)."""
        if listener not in self._dispatcher.group_listeners:
            self._dispatcher.group_listeners.append(listener)

    def remove_group_listener(self, listener: object) -> None:
        if listener in self._dispatcher.group_listeners:
            self._dispatcher.group_listeners.remove(listener)

    async def _on_metas(self, metas: list[pb.Meta]) -> None:
        """Called for each batch of MUC Metas the connection pulled, in order."""
        for meta in metas:
            if not self._seen.add(meta.id):
                continue
            event = group_event_from_meta(meta)
            if event is not None:
                await self._dispatcher.emit(event)

    # -- transport -----------------------------------------------------------------------

    async def _call(self, method: str, path: str, *, json: Any = None, **params: Any) -> Any:
        rest, login = self._client._rest_login()  # USER_NOT_LOGIN before a login
        query = {"resource": login.resource, **{k: v for k, v in params.items() if v is not None}}
        return await rest.call(method, path, token=login.token, json=json, params=query)

    def _me(self) -> str:
        me = self._client.current_user
        if me is None:
            raise ChatError(ErrorCode.USER_NOT_LOGIN, "log in first")
        return me

    @staticmethod
    def _group(group_id: str) -> str:
        if not isinstance(group_id, str) or not group_id.strip():
            raise ChatError(ErrorCode.GROUP_INVALID_ID, "the group id is empty")
        return f"/chatgroups/{seg(group_id)}"

    # -- lifecycle -----------------------------------------------------------------------

    async def create(
        self,
        name: str,
        *,
        members: Sequence[str] = (),
        description: str = "",
        public: bool = False,
        approval: bool = False,
        allow_invites: bool = False,
        invite_need_confirm: bool = False,
        max_users: int = 200,
        custom: str = "",
        avatar: str = "",
    ) -> str:
        """Create a group I own, with ``members`` added at once (each hears
        ``directJoined``); returns its id."""
        body = {
            "groupname": name,
            "desc": description,
            "members": list(members),
            "public": public,
            "membersonly": approval,
            "allowinvites": allow_invites,
            "invite_need_confirm": invite_need_confirm,
            "maxusers": max_users,
            "custom": custom,
            "avatar": avatar,
        }
        data = data_of(await self._call("POST", "/chatgroups", json=body))
        if not isinstance(data, dict) or not isinstance(data.get("groupid"), str):
            raise ChatError(ErrorCode.SERVER_UNKNOWN_ERROR, "the answer names no group id")
        return str(data["groupid"])

    async def get_info(self, group_id: str) -> GroupInfo:
        """A group's details. Raises ``GROUP_NOT_EXIST``."""
        data = data_of(await self._call("GET", self._group(group_id)))
        if not isinstance(data, list) or not data or not isinstance(data[0], dict):
            raise ChatError(ErrorCode.GROUP_NOT_EXIST, f"no details for group {group_id}")
        return info_of(data[0])

    async def modify(
        self,
        group_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        public: bool | None = None,
        approval: bool | None = None,
        allow_invites: bool | None = None,
        invite_need_confirm: bool | None = None,
        max_users: int | None = None,
        custom: str | None = None,
        avatar: str | None = None,
    ) -> None:
        """Change the settings given (owner or admin); members hear ``updateInfo``."""
        fields = {
            "groupname": name,
            "description": description,
            "public": public,
            "membersonly": approval,
            "allowinvites": allow_invites,
            "invite_need_confirm": invite_need_confirm,
            "maxusers": max_users,
            "custom": custom,
            "avatar": avatar,
        }
        body = {k: v for k, v in fields.items() if v is not None}
        if body:
            await self._call("PUT", self._group(group_id), json=body)

    async def transfer_owner(self, group_id: str, new_owner: str) -> None:
        """Make a member the owner (I become a member); both hear ``changeOwner``."""
        await self._call("PUT", self._group(group_id), json={"newowner": new_owner})

    async def destroy(self, group_id: str) -> None:
        """Destroy the group (owner only); members hear ``destroy``."""
        await self._call("DELETE", self._group(group_id))

    # -- membership ----------------------------------------------------------------------

    async def members(self, group_id: str) -> list[GroupMember]:
        """Every member with its role, the owner first."""
        found: list[GroupMember] = []
        cursor = "0"
        while True:
            body = await self._call(
                "GET", f"{self._group(group_id)}/users", limit=1000, cursor=cursor
            )
            found += [m for m in map(member_of, data_of(body) or []) if m is not None]
            following = body.get("cursor") if isinstance(body, dict) else None
            if not isinstance(following, str) or following == cursor:
                return found
            cursor = following

    async def add_members(self, group_id: str, usernames: Iterable[str]) -> list[str]:
        """Add users at once (owner or admin, or any member if the group allows invites);
        returns those added (members already in are skipped)."""
        body = {"usernames": name_list(usernames)}
        data = data_of(await self._call("POST", f"{self._group(group_id)}/users", json=body))
        added = data.get("newmembers") if isinstance(data, dict) else None
        return [str(n) for n in added] if isinstance(added, list) else []

    async def remove_members(self, group_id: str, usernames: Iterable[str]) -> list[str]:
        """Remove members (owner or admin); returns those removed."""
        names = ",".join(seg(n) for n in name_list(usernames))
        return users_of(
            data_of(await self._call("DELETE", f"{self._group(group_id)}/users/{names}"))
        )

    async def join(self, group_id: str, message: str = "") -> bool:
        """Join a public group: ``True`` when joined at once, ``False`` when the group
        needs approval and the application (with ``message``) waits for an answer."""
        body = await self._call("POST", f"{self._group(group_id)}/apply", json={"message": message})
        data = data_of(body)
        return not (isinstance(data, dict) and "reason" in data)

    async def answer_application(
        self, group_id: str, applicant: str, accept: bool, reason: str = ""
    ) -> None:
        """Accept or decline an application (owner or admin); the applicant hears
        ``acceptRequest`` or ``joinPublicGroupDeclined``."""
        body = {"applicant": applicant, "verifyResult": accept, "reason": reason}
        await self._call("POST", f"{self._group(group_id)}/apply_verify", json=body)

    async def invite(self, group_id: str, usernames: Iterable[str]) -> None:
        """Invite users: they join at once (``directJoined``), or, when the group wants
        consent, hear ``inviteToJoin`` and answer with ``answer_invitation``."""
        body = {"usernames": name_list(usernames)}
        await self._call("POST", f"{self._group(group_id)}/invite", json=body)

    async def answer_invitation(self, group_id: str, accept: bool) -> None:
        """Accept or decline an invitation to me; the inviter hears ``acceptInvite`` or
        ``rejectInvite``."""
        body = {"invitee": self._me(), "verifyResult": accept}
        await self._call("POST", f"{self._group(group_id)}/invite_verify", json=body)

    async def leave(self, group_id: str) -> None:
        """Leave a group (not its owner); the members hear ``memberAbsence``."""
        await self._call("DELETE", f"{self._group(group_id)}/quit")

    async def is_member(self, group_id: str, username: str | None = None) -> bool:
        """Whether ``username`` (by default me) is in the group."""
        user = seg(username or self._me())
        body = await self._call("GET", f"{self._group(group_id)}/user/{user}/is_joined")
        return data_of(body) is True

    async def joined_groups(self) -> list[JoinedGroup]:
        """The groups I am in, with my role in each."""
        path = f"/users/{seg(self._me())}/joined_chatgroups"
        groups: list[JoinedGroup] = []
        page = 1
        while True:
            data = data_of(await self._call("GET", path, pagenum=page, pagesize=PAGE)) or []
            groups += [j for j in map(joined_of, data) if j is not None]
            if len(data) < PAGE:
                return groups
            page += 1

    # -- roles ---------------------------------------------------------------------------

    async def admins(self, group_id: str) -> list[str]:
        data = data_of(await self._call("GET", f"{self._group(group_id)}/admin"))
        return [str(n) for n in data] if isinstance(data, list) else []

    async def add_admin(self, group_id: str, username: str) -> None:
        """Make a member an admin (owner only); it hears ``setAdmin``."""
        body = {"newadmin": username}
        await self._call("POST", f"{self._group(group_id)}/admin", json=body)

    async def remove_admin(self, group_id: str, username: str) -> None:
        await self._call("DELETE", f"{self._group(group_id)}/admin/{seg(username)}")

    # -- moderation (owner or admin) -----------------------------------------------------

    async def mute(
        self, group_id: str, usernames: Iterable[str], duration_ms: int = -1
    ) -> dict[str, int]:
        """Mute members for ``duration_ms`` (-1: until unmuted): their sends fail with
        ``USER_MUTED``. Returns username → when the mute ends (epoch ms)."""
        body = {"usernames": name_list(usernames), "mute_duration": duration_ms}
        data = data_of(await self._call("POST", f"{self._group(group_id)}/mute", json=body))
        return expiries_of(data)

    async def unmute(self, group_id: str, usernames: Iterable[str]) -> None:
        names = ",".join(seg(n) for n in name_list(usernames))
        await self._call("DELETE", f"{self._group(group_id)}/mute/{names}")

    async def mutes(self, group_id: str) -> dict[str, int]:
        """The muted members: username → when the mute ends (epoch ms)."""
        return expiries_of(data_of(await self._call("GET", f"{self._group(group_id)}/mute")))

    async def mute_all(self, group_id: str, on: bool = True) -> None:
        """Mute everyone but the owner, the admins and the allow list (``on=False`` lifts
        it); sends fail with ``MESSAGE_ILLEGAL_WHITELIST``."""
        await self._call("POST" if on else "DELETE", f"{self._group(group_id)}/ban")

    async def allow_list(self, group_id: str) -> list[str]:
        return await self._listed(group_id, "white")

    async def set_allowed(self, group_id: str, usernames: Iterable[str], on: bool = True) -> None:
        """Add users to the allow list (``on=False``: remove them)."""
        await self._change(group_id, "white", usernames, on)

    async def block_list(self, group_id: str) -> list[str]:
        return await self._listed(group_id, "blocks")

    async def set_blocked(self, group_id: str, usernames: Iterable[str], on: bool = True) -> None:
        """Block users (members are removed, and cannot come back) or unblock them."""
        await self._change(group_id, "blocks", usernames, on)

    # -- read receipts -----------------------------------------------------------------

    async def ack_read(self, group_id: str, message_id: str, content: str = "") -> None:
        """Tell the sender of group message ``message_id`` that this user read it (the app
        must have group read receipts on; only within 3 days of the message).

        Raises:
            ChatError: ``SERVICE_NOT_ENABLED`` when the app has them off or the group is
                too large; ``MESSAGE_EXPIRED`` past 3 days; ``GROUP_NOT_JOINED`` for a
                non-member; ``MESSAGE_INVALID`` for a message not of this group.
        """
        conn = await self._client._ready_connection()
        body = pb.MessageBody(type=pb.MessageBody.READ_ACK, ack_message_id=int(message_id))
        body.from_jid.CopyFrom(jid(conn.login.app_key, conn.login.username))
        self._group(group_id)  # GROUP_INVALID_ID for an empty id
        body.to_jid.CopyFrom(jid(conn.login.app_key, group_id, GROUP_DOMAIN))
        body.msg_config.allow_group_ack = True
        if content:
            body.ack_content = content
        meta = pb.Meta(
            id=self._local_ids.next_id(),
            to_jid=jid(conn.login.app_key, group_id, GROUP_DOMAIN),
            ns=pb.Meta.CHAT,
            payload=body.SerializeToString(),
        )
        await conn.send_meta(meta)

    async def read_users(self, group_id: str, message_id: str) -> list[str]:
        """Who read group message ``message_id`` (its sender, a member, asks)."""
        readers: list[str] = []
        key: str | None = None
        for _ in range(100):  # 500 a page; a group of receipts has at most 5,000 members
            data = await self._call(
                "GET", f"{self._group(group_id)}/acks/{seg(message_id)}", limit=500, key=key
            )
            page = data.get("data") or {}
            readers += [str(name) for name in page.get("userlist") or []]
            key = page.get("next_key")
            if page.get("is_last", True) or not key:
                break
        return readers

    async def announcement(self, group_id: str) -> str:
        data = data_of(await self._call("GET", f"{self._group(group_id)}/announcement"))
        text = data.get("announcement") if isinstance(data, dict) else None
        return text if isinstance(text, str) else ""

    async def set_announcement(self, group_id: str, text: str) -> None:
        body = {"announcement": text}
        await self._call("POST", f"{self._group(group_id)}/announcement", json=body)

    async def _listed(self, group_id: str, which: str) -> list[str]:
        data = data_of(await self._call("GET", f"{self._group(group_id)}/{which}/users"))
        return [str(n) for n in data] if isinstance(data, list) else []

    async def _change(self, group_id: str, which: str, usernames: Iterable[str], on: bool) -> None:
        names = name_list(usernames)
        path = f"{self._group(group_id)}/{which}/users"
        if on:
            await self._call("POST", path, json={"usernames": names})
        else:
            await self._call("DELETE", f"{path}/{','.join(seg(n) for n in names)}")
