"""``client.contacts``: contacts and the block list over REST with the logged-in user's own
token, and contact events — each ``Meta{ns=ROSTER}`` the server sends (a ``RosterBody``) as
a ``ContactEvent`` named like the official Web SDK's callbacks::

    class Watcher:
        async def on_contact_event(self, event: ContactEvent) -> None:
            if event.operation == "contactInvited":
                await client.contacts.accept(event.user)

    client.contacts.add_contact_listener(Watcher())
    await client.contacts.add_contact("bob", "hi, it's alice")

Failures are ``ChatError``s: ``CONTACT_ADD_FAILED`` (1000: yourself, already a contact,
already asked, no request to answer), ``CONTACT_REACH_LIMIT`` (1001: my list is full),
``CONTACT_REACH_LIMIT_PEER`` (1002: theirs is), ``USER_NOT_FOUND``, ``USER_NOT_FRIEND``
(a remark or a delete for someone who is no contact), ``USER_PERMISSION_DENIED`` (they
blocked me), ``EXCEED_SERVICE_LIMIT`` (a remark over 100 characters, a full block list).
A message to someone who blocked me fails with ``USER_PERMISSION_DENIED``; to a stranger,
when the app allows contacts only, with ``USER_NOT_FRIEND``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import pb

from ._chat import _Seen
from ._contact_events import ContactEvent, ContactListener, contact_event_from_meta
from ._group_models import data_of, name_list, seg
from ._listeners import Dispatcher

if TYPE_CHECKING:
    from ._client import ChatClient

__all__ = ["Contact", "ContactEvent", "ContactListener", "ContactManager"]

PAGE: Final = 50  # the server's largest page of contacts


@dataclass(frozen=True, slots=True)
class Contact:
    user_id: str
    remark: str = ""


def _names(data: Any) -> list[str]:
    return [str(n) for n in data if isinstance(n, str)] if isinstance(data, list) else []


def _contacts(items: Any) -> list[Contact]:
    if not isinstance(items, list):
        return []
    return [
        Contact(str(i["username"]), str(i.get("remark") or ""))
        for i in items
        if isinstance(i, dict) and isinstance(i.get("username"), str)
    ]


class ContactManager:
    """Contacts and the block list: ``client.contacts.add_contact(...)`` and friends.

    Example:
        >>> await client.contacts.add_contact("bob", "hi")  # doctest: +SKIP
        >>> await client.contacts.contacts()  # doctest: +SKIP
        ['bob']
    """

    def __init__(self, client: ChatClient, dispatcher: Dispatcher) -> None:
        self._client = client
        self._dispatcher = dispatcher
        self._seen = _Seen()

    # -- listeners -----------------------------------------------------------------------

    def add_contact_listener(self, listener: object) -> None:
        """Register an object with an ``on_contact_event(event)`` method."""
        if listener not in self._dispatcher.contact_listeners:
            self._dispatcher.contact_listeners.append(listener)

    def remove_contact_listener(self, listener: object) -> None:
        if listener in self._dispatcher.contact_listeners:
            self._dispatcher.contact_listeners.remove(listener)

    async def _on_metas(self, metas: list[pb.Meta]) -> None:
        """Called for each batch of ROSTER Metas the connection pulled, in order."""
        for meta in metas:
            if not self._seen.add(meta.id):
                continue
            event = contact_event_from_meta(meta)
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
        return seg(me)

    # -- requests and answers ------------------------------------------------------------

    async def add_contact(self, username: str, reason: str = "") -> None:
        """Ask ``username`` to become my contact; it hears ``contactInvited``."""
        body = {"usernames": [username], "reason": reason}
        await self._call("POST", f"/users/{self._me()}/contacts/apply", json=body)

    async def accept(self, username: str) -> None:
        """Accept ``username``'s request: it hears ``contactAgreed`` and ``contactAdded``."""
        await self._call("POST", f"/users/{self._me()}/contacts/accept/users/{seg(username)}")

    async def decline(self, username: str) -> None:
        """Decline ``username``'s request: it hears ``contactRefuse``."""
        await self._call("POST", f"/users/{self._me()}/contacts/decline/users/{seg(username)}")

    async def delete(self, username: str) -> None:
        """No longer contacts, on both sides: ``username`` hears ``contactDeleted``."""
        await self._call("DELETE", f"/users/{self._me()}/contacts/users/{seg(username)}")

    # -- lists and remarks ---------------------------------------------------------------

    async def contacts(self) -> list[str]:
        """My contacts' usernames."""
        return _names(data_of(await self._call("GET", f"/users/{self._me()}/contacts/users")))

    async def all_contacts(self) -> list[Contact]:
        """My contacts, each with my remark."""
        body = await self._call(
            "GET", f"/users/{self._me()}/contacts/users", needReturnRemark="true"
        )
        return _contacts(body.get("entities") if isinstance(body, dict) else None)

    async def contacts_page(
        self, page_size: int = 20, cursor: str = ""
    ) -> tuple[list[Contact], str | None]:
        """One page of my contacts with remarks, and the cursor of the next (None: last)."""
        body = await self._call(
            "GET",
            f"/users/{self._me()}/contacts",
            needReturnRemark="true",
            limit=min(max(page_size, 1), PAGE),
            cursor=cursor or None,
        )
        data = data_of(body)
        if not isinstance(data, dict):
            return [], None
        following = data.get("cursor")
        return _contacts(data.get("contacts")), following if isinstance(following, str) else None

    async def set_remark(self, username: str, remark: str) -> None:
        """My note on a contact (≤ 100 characters)."""
        path = f"/users/{self._me()}/contacts/users/{seg(username)}"
        await self._call("PUT", path, json={"remark": remark})

    # -- block list ----------------------------------------------------------------------

    async def block(self, usernames: Iterable[str]) -> list[str]:
        """Block users (≤ 50 at once): their messages to me fail, and so do their requests."""
        body = {"usernames": name_list(usernames)}
        data = data_of(await self._call("POST", f"/sdk/user/{self._me()}/blocks", json=body))
        return _names(data)

    async def unblock(self, usernames: Iterable[str]) -> None:
        body = {"usernames": name_list(usernames)}
        await self._call("DELETE", f"/sdk/user/{self._me()}/blocks", json=body)

    async def block_list(self) -> list[str]:
        """Whom I blocked, newest first."""
        return _names(data_of(await self._call("GET", f"/users/{self._me()}/blocks/users")))
