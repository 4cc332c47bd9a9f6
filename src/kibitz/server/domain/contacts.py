"""Contacts and block lists: requests and their answers, direct adds (the app), deletes,
remarks, lists; who blocked whom — and, as the ``SendRules`` port of 1:1 sends, which
messages a recipient refuses.

Agora's rules kept here: a request to oneself, to a contact or repeated while pending fails
(CONTACT_ADD_FAILED); a full contact list fails the caller (CONTACT_REACH_LIMIT) or its peer
(CONTACT_REACH_LIMIT_PEER), by the app's ``contacts_per_user``; a block list holds
``blocklist_per_user`` users (500), ≤ 50 per call; anyone may be blocked, contact or not,
and stays a contact. A blocked user cannot message its blocker, nor ask to be its contact;
with the app's ``contacts_only`` a device may message only its contacts.

Every change is written, then told (``contact_models.roster_delivery``) and announced
(``ContactsChanged``) so each node's ``ContactRules`` forgets what it knew.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import pb

from .app_settings import AppSettings
from .contact_models import (
    BLOCKED,
    MAX_BLOCK_BATCH,
    MAX_REMARK,
    NON_CONTACT,
    NOT_FRIENDS,
    Contact,
    ContactStore,
    RosterEvent,
    limit_reached,
    roster_delivery,
)
from .delivery import Delivery, Sender
from .events import ContactsChanged, EventBus
from .group_events import EventPoster
from .models import App
from .ports import Clock

__all__ = ["MAX_CACHED_USERS", "ContactRules", "ContactService", "Settings", "UserIds"]

MAX_CACHED_USERS: Final = 50_000
R = pb.RosterBody  # the operations


class UserIds(Protocol):
    """username → user id for those that have an account (the message store has it)."""

    async def user_ids(self, app_pk: str, usernames: Sequence[str]) -> dict[str, str]: ...


class Settings(Protocol):
    """The app's limits and switches (``AppSettingsService``)."""

    async def get(self, app_pk: str) -> AppSettings: ...


def _unknown(username: str) -> ChatError:
    """Worded for both SDKs: the Web SDK reads "user not found" on a 404 as 204."""
    return ChatError(ErrorCode.USER_NOT_FOUND, f"user not found: username {username} doesn't exist")


class ContactRules:
    """What a 1:1 send asks (``MessagingService``'s ``SendRules``): the recipients' block
    lists and, with ``contacts_only``, the sender's contacts — from a bounded per-node
    memory that every change forgets (``contacts_changed``)."""

    def __init__(
        self, store: ContactStore, settings: Settings, max_users: int = MAX_CACHED_USERS
    ) -> None:
        self._store = store
        self._settings = settings
        self._max = max_users
        self._blocked: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._contacts: OrderedDict[str, frozenset[str]] = OrderedDict()

    def contacts_changed(self, events: Sequence[ContactsChanged]) -> None:
        for e in events:
            self.forget(e.user_ids)

    def forget(self, user_ids: Sequence[str]) -> None:
        for user_id in user_ids:
            self._blocked.pop(user_id, None)
            self._contacts.pop(user_id, None)

    async def _cached(
        self, cache: OrderedDict[str, frozenset[str]], user_id: str, blocked: bool
    ) -> frozenset[str]:
        found = cache.get(user_id)
        if found is not None:
            cache.move_to_end(user_id)
            return found
        load = self._store.blocked_ids if blocked else self._store.contact_ids
        found = frozenset(await load(user_id))
        cache[user_id] = found
        while len(cache) > self._max:
            cache.popitem(last=False)
        return found

    async def refusals(self, sender: Sender, recipients: Mapping[str, str]) -> dict[str, ChatError]:
        """username → why that recipient (username → user id) refuses the message. Only a
        device's sends are checked: the app's (the REST server API, no resource) are the
        app's word, not the user's, and its route has no answer for one refused recipient."""
        if sender.user_id is None or not sender.resource or not recipients:
            return {}
        out: dict[str, ChatError] = {}
        for name, user_id in recipients.items():
            if user_id == sender.user_id:
                continue
            if sender.user_id in await self._cached(self._blocked, user_id, True):
                out[name] = ChatError(ErrorCode.USER_PERMISSION_DENIED, BLOCKED)
        if len(out) < len(recipients):
            if (await self._settings.get(sender.app.id)).contacts_only:
                mine = await self._cached(self._contacts, sender.user_id, False)
                for name, user_id in recipients.items():
                    if name not in out and user_id != sender.user_id and user_id not in mine:
                        out[name] = ChatError(ErrorCode.USER_NOT_FRIEND, NON_CONTACT)
        return out


class ContactService:
    def __init__(
        self,
        store: ContactStore,
        users: UserIds,
        settings: Settings,
        clock: Clock,
        *,
        events: EventPoster | None = None,
        bus: EventBus | None = None,
        rules: ContactRules | None = None,
    ) -> None:
        self._store = store
        self._users = users
        self._settings = settings
        self._clock = clock
        self._events = events
        self._bus = bus
        self._rules = rules

    # -- helpers -------------------------------------------------------------------------

    async def _ids(self, app: App, *names: str) -> list[str]:
        """The user ids of ``names``; USER_NOT_FOUND for the first without an account."""
        found = await self._users.user_ids(app.id, list(dict.fromkeys(names)))
        for name in names:
            if name not in found:
                raise _unknown(name)
        return [found[n] for n in names]

    async def _changed(self, *user_ids: str) -> None:
        if self._rules is not None:
            self._rules.forget(user_ids)
        if self._bus is not None:
            await self._bus.publish([ContactsChanged(tuple(user_ids))])

    async def _tell(self, app: App, actor: str, resource: str, *events: RosterEvent) -> None:
        if self._events is None or not events:
            return
        deliveries: list[Delivery] = [roster_delivery(app, e, actor, resource) for e in events]
        await self._events.post(deliveries)

    async def _check_room(
        self, app: App, actor_id: str, peer_id: str, actor: str, peer: str
    ) -> None:
        limit = (await self._settings.get(app.id)).contacts_per_user
        if await self._store.count_contacts(actor_id) >= limit:
            raise limit_reached(True, actor, peer)
        if await self._store.count_contacts(peer_id) >= limit:
            raise limit_reached(False, actor, peer)

    # -- requests and answers ------------------------------------------------------------

    async def request(
        self, app: App, actor: str, to: str, reason: str = "", resource: str = ""
    ) -> None:
        """``actor`` asks ``to`` to become a contact; ``to`` hears ADD (onContactInvited)."""
        actor_id, to_id = await self._ids(app, actor, to)
        if actor_id == to_id:
            raise ChatError(ErrorCode.CONTACT_ADD_FAILED, "you cannot add yourself as a contact")
        if to_id in await self._store.contact_ids(actor_id):
            raise ChatError(ErrorCode.CONTACT_ADD_FAILED, f"{to} is already your contact")
        if actor_id in await self._store.blocked_ids(to_id):
            raise ChatError(ErrorCode.USER_PERMISSION_DENIED, f"{to} does not accept your request")
        if await self._store.request_of(actor_id, to_id) is not None:
            raise ChatError(ErrorCode.CONTACT_ADD_FAILED, f"a request to {to} is already pending")
        await self._check_room(app, actor_id, to_id, actor, to)
        await self._store.add_request(actor_id, to_id, reason, self._clock.now_ms())
        await self._tell(app, actor, resource, RosterEvent(R.ADD, to, to_id, actor, reason))

    async def accept(self, app: App, actor: str, requester: str, resource: str = "") -> None:
        """``actor`` accepts ``requester``'s request: the requester hears REMOTE_ACCEPT
        (onContactAgreed) and ACCEPT (onContactAdded), the actor's other devices ACCEPT."""
        actor_id, requester_id = await self._ids(app, actor, requester)
        if await self._store.request_of(requester_id, actor_id) is None:
            raise ChatError(ErrorCode.CONTACT_ADD_FAILED, f"no contact request from {requester}")
        await self._check_room(app, actor_id, requester_id, actor, requester)
        await self._store.add_contact(actor_id, requester_id, self._clock.now_ms())
        await self._changed(actor_id, requester_id)
        await self._tell(
            app,
            actor,
            resource,
            RosterEvent(R.REMOTE_ACCEPT, requester, requester_id, actor),
            RosterEvent(R.ACCEPT, requester, requester_id, actor),
            RosterEvent(R.ACCEPT, actor, actor_id, requester),
        )

    async def decline(self, app: App, actor: str, requester: str, resource: str = "") -> None:
        """The requester hears REMOTE_DECLINE (onContactRefuse), the actor's other devices
        DECLINE."""
        actor_id, requester_id = await self._ids(app, actor, requester)
        if not await self._store.remove_request(requester_id, actor_id):
            raise ChatError(ErrorCode.CONTACT_ADD_FAILED, f"no contact request from {requester}")
        await self._tell(
            app,
            actor,
            resource,
            RosterEvent(R.REMOTE_DECLINE, requester, requester_id, actor),
            RosterEvent(R.DECLINE, actor, actor_id, requester),
        )

    async def add(self, app: App, owner: str, friend: str) -> None:
        """The app makes two users contacts at once (no request); both hear ACCEPT."""
        owner_id, friend_id = await self._ids(app, owner, friend)
        if owner_id == friend_id:
            raise ChatError(ErrorCode.CONTACT_ADD_FAILED, "a user cannot be its own contact")
        if friend_id in await self._store.contact_ids(owner_id):
            return  # Agora answers the friend again: adding twice changes nothing
        await self._check_room(app, owner_id, friend_id, owner, friend)
        await self._store.add_contact(owner_id, friend_id, self._clock.now_ms())
        await self._changed(owner_id, friend_id)
        await self._tell(
            app,
            owner,
            "",
            RosterEvent(R.ACCEPT, owner, owner_id, friend),
            RosterEvent(R.ACCEPT, friend, friend_id, owner),
        )

    async def delete(self, app: App, actor: str, contact: str, resource: str = "") -> None:
        """Both sides lose the contact: the other hears REMOVE (onContactDeleted), and so do
        the actor's other devices."""
        actor_id, contact_id = await self._ids(app, actor, contact)
        if not await self._store.remove_contact(actor_id, contact_id):
            raise ChatError(ErrorCode.USER_NOT_FRIEND, f"{contact} is not your contact")
        await self._changed(actor_id, contact_id)
        await self._tell(
            app,
            actor,
            resource,
            RosterEvent(R.REMOVE, contact, contact_id, actor),
            RosterEvent(R.REMOVE, actor, actor_id, contact),
        )

    # -- lists and remarks ---------------------------------------------------------------

    async def contacts(self, app: App, username: str) -> list[Contact]:
        (user_id,) = await self._ids(app, username)
        return await self._store.contacts(user_id)

    async def page(
        self, app: App, username: str, limit: int, after: str | None
    ) -> tuple[list[Contact], str | None]:
        """A page by username, and the username to continue after (None: the last page)."""
        (user_id,) = await self._ids(app, username)
        found = await self._store.contact_page(user_id, limit + 1, after)
        more = len(found) > limit
        found = found[:limit]
        return found, (found[-1].username if more and found else None)

    async def set_remark(self, app: App, username: str, contact: str, remark: str) -> None:
        if len(remark) > MAX_REMARK:
            raise ChatError(
                ErrorCode.EXCEED_SERVICE_LIMIT, f"remark length must less than {MAX_REMARK}"
            )
        user_id, contact_id = await self._ids(app, username, contact)
        if not await self._store.set_remark(user_id, contact_id, remark):
            raise ChatError(ErrorCode.USER_NOT_FRIEND, NOT_FRIENDS)

    # -- block lists ---------------------------------------------------------------------

    async def blocked(self, app: App, username: str) -> list[str]:
        """Newest first."""
        (user_id,) = await self._ids(app, username)
        return await self._store.blocked(user_id)

    async def block(self, app: App, username: str, names: Sequence[str]) -> list[str]:
        """Add to the block list; answers the names added (all of ``names``)."""
        names = list(dict.fromkeys(names))
        if not names:
            raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "usernames is empty")
        if len(names) > MAX_BLOCK_BATCH:
            raise ChatError(
                ErrorCode.EXCEED_SERVICE_LIMIT, f"at most {MAX_BLOCK_BATCH} users at once"
            )
        user_id, *ids = await self._ids(app, username, *names)
        if user_id in ids:
            raise ChatError(ErrorCode.USER_ILLEGAL_ARGUMENT, "you cannot block yourself")
        already = await self._store.blocked_ids(user_id)
        limit = (await self._settings.get(app.id)).blocklist_per_user
        if len(already | set(ids)) > limit:
            raise ChatError(ErrorCode.EXCEED_SERVICE_LIMIT, "The quantity has exceeded the limit!")
        await self._store.block(user_id, ids, self._clock.now_ms())
        await self._changed(user_id)
        return names

    async def unblock(self, app: App, username: str, names: Sequence[str]) -> list[str]:
        names = list(dict.fromkeys(names))
        if len(names) > MAX_BLOCK_BATCH:
            raise ChatError(
                ErrorCode.EXCEED_SERVICE_LIMIT, f"at most {MAX_BLOCK_BATCH} users at once"
            )
        user_id, *ids = await self._ids(app, username, *names)
        await self._store.unblock(user_id, ids)
        await self._changed(user_id)
        return names
