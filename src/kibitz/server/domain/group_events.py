"""Group events: a membership or settings change, told as the Web SDK expects it — a
``Meta{ns=MUC}`` carrying a ``MUCBody`` (agora-protocol-2.md §3.6), pulled like a message.

An event is stored once, with one inbox row per user it is for, in that user's own queue
of group events (``EVENT_QUEUE``): unlike the group's shared queue, it reaches users who are
not (or no longer) members — the one removed, the one invited — and survives the group's
destruction. Its name is no group id and no username: the Web SDK keeps the queues it has
still to pull by name alone, so a queue named like a group's would have one of the two
NOTICEs dropped whenever both arrive together (agora-protocol-2.md §2.6). The acting
device is skipped (the REST ``resource`` parameter names it); the actor's other devices get
the event like everyone else.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from kibitz.protocol._msync import GROUP_DOMAIN, jid, pb

from .delivery import Delivery, Draft, InboxRow, Stored, meta_encoder
from .events import Notice
from .group_models import Member
from .models import App

__all__ = [
    "EVENT_QUEUE",
    "EventPoster",
    "GroupEvent",
    "Recipient",
    "event_delivery",
    "recipients",
    "update_ext",
]

EVENT_QUEUE: Final = "groups#events"  # "#" never appears in a username or a group id


@dataclass(frozen=True, slots=True)
class Recipient:
    username: str
    user_id: str


@dataclass(frozen=True, slots=True)
class GroupEvent:
    """One ``MUCBody``: ``op`` on group ``group_id`` by ``actor``, about ``to``."""

    op: pb.MUCBody.Operation
    group_id: str
    actor: str
    to: tuple[str, ...] = ()
    reason: str = ""
    muc_name: str = ""
    ext: str = ""  # eventInfo.ext: JSON (UPDATE)
    member_count: int = 0
    body_ext: str = ""  # MUCBody.ext: JSON (ADD_MUTE: {"user_mute_time": {user: ms}})


class EventPoster(Protocol):
    """Writes deliveries durably, then notifies (``MessagingService.post``)."""

    async def post(self, deliveries: Sequence[Delivery]) -> list[Stored]: ...


def update_ext(changes: dict[str, object], modified_ms: int) -> str:
    """UPDATE's ``eventInfo.ext``: the changed settings under the keys the SDK renames
    into ``detail`` (compact JSON: the SDK's decoder refuses bytes below 0x10)."""
    keys = {
        "name": "name",
        "description": "description",
        "public": "public",
        "approval": "members_only",
        "allow_invites": "allow_user_invites",
        "max_users": "max_users",
        "invite_need_confirm": "invite_need_confirm",
        "custom": "custom",
        "avatar": "avatar",
    }
    ext = {keys[k]: v for k, v in changes.items() if k in keys}
    ext["last_modified"] = modified_ms
    return json.dumps(ext, separators=(",", ":"), ensure_ascii=False)


def event_delivery(
    app: App,
    event: GroupEvent,
    recipients: Sequence[Recipient],
    *,
    resource: str = "",
) -> Delivery | None:
    """The delivery of ``event`` to ``recipients`` (None when there is no one to tell);
    the actor's device on ``resource`` skips it."""
    people = list({r.username: r for r in recipients}.values())
    if not people:
        return None
    body = pb.MUCBody(operation=event.op, reason=event.reason, muc_name=event.muc_name)
    body.muc_id.CopyFrom(jid(app.app_key, event.group_id, GROUP_DOMAIN))
    body.from_jid.CopyFrom(jid(app.app_key, event.actor))
    for name in event.to:
        body.to.append(jid(app.app_key, name))
    if event.ext:
        body.event_info.ext = event.ext
    if event.member_count:
        body.muc_member_count = event.member_count
    if event.body_ext:
        body.ext = event.body_ext
    payload = body.SerializeToString()
    from_jid = jid(app.app_key, event.actor, resource=resource)
    to_jid = jid(app.app_key, event.group_id, GROUP_DOMAIN)
    encode = meta_encoder(from_jid, to_jid, pb.Meta.MUC, payload)

    queue = EVENT_QUEUE
    rows = tuple(
        InboxRow(r.user_id, queue, resource if r.username == event.actor and resource else None)
        for r in people
    )
    notices = [
        Notice(
            app.id,
            app.app_key,
            r.username,
            queue,
            skip_resource=resource if r.username == event.actor and resource else None,
        )
        for r in people
    ]
    draft = Draft(app.id, "muc", event.actor, resource, event.group_id, rows, encode)
    return Delivery(draft, notices)


def recipients(members: Iterable[Member]) -> list[Recipient]:
    return [Recipient(m.username, m.user_id) for m in members]
