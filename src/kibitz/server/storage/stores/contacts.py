"""SQL adapter for ``ContactStore``: a contact is a row per side, a request a row from the
requester, a block a row from the blocker; usernames come from ``users`` by join."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from kibitz.server.domain.contact_models import Contact

from ..schema import contact_requests, contacts, user_blocks, users

__all__ = ["SqlContactStore"]


class SqlContactStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        dialect: Any = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert

    async def _names(self, query: Any) -> list[Any]:
        async with self._engine.connect() as conn:
            return list(await conn.execute(query))

    # -- contacts ------------------------------------------------------------------------

    def _contact_query(self, user_id: str) -> Any:
        return (
            select(users.c.username, contacts.c.remark)
            .join(users, users.c.id == contacts.c.contact)
            .where(contacts.c.owner == user_id)
            .order_by(users.c.username)
        )

    async def contacts(self, user_id: str) -> list[Contact]:
        rows = await self._names(self._contact_query(user_id))
        return [Contact(row.username, row.remark) for row in rows]

    async def contact_page(self, user_id: str, limit: int, after: str | None) -> list[Contact]:
        query = self._contact_query(user_id)
        if after is not None:
            query = query.where(users.c.username > after)
        rows = await self._names(query.limit(limit))
        return [Contact(row.username, row.remark) for row in rows]

    async def contact_ids(self, user_id: str) -> set[str]:
        rows = await self._names(select(contacts.c.contact).where(contacts.c.owner == user_id))
        return {row.contact for row in rows}

    async def count_contacts(self, user_id: str) -> int:
        query = select(func.count()).select_from(contacts).where(contacts.c.owner == user_id)
        async with self._engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def add_contact(self, a: str, b: str, now_ms: int) -> bool:
        rows = [
            {"owner": a, "contact": b, "remark": "", "created_ms": now_ms},
            {"owner": b, "contact": a, "remark": "", "created_ms": now_ms},
        ]
        between = or_(
            and_(contact_requests.c.requester == a, contact_requests.c.invitee == b),
            and_(contact_requests.c.requester == b, contact_requests.c.invitee == a),
        )
        existing = select(contacts.c.owner).where(contacts.c.owner == a, contacts.c.contact == b)
        async with self._engine.begin() as conn:
            await conn.execute(delete(contact_requests).where(between))
            if await conn.scalar(existing) is not None:
                return False
            await conn.execute(self._insert(contacts).on_conflict_do_nothing(), rows)
        return True

    async def remove_contact(self, a: str, b: str) -> bool:
        both = or_(
            and_(contacts.c.owner == a, contacts.c.contact == b),
            and_(contacts.c.owner == b, contacts.c.contact == a),
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(contacts).where(both))
        return bool(result.rowcount)

    async def set_remark(self, owner: str, contact: str, remark: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(contacts)
                .where(contacts.c.owner == owner, contacts.c.contact == contact)
                .values(remark=remark)
            )
        return bool(result.rowcount)

    # -- requests ------------------------------------------------------------------------

    async def request_of(self, requester: str, invitee: str) -> str | None:
        query = select(contact_requests.c.reason).where(
            contact_requests.c.requester == requester, contact_requests.c.invitee == invitee
        )
        async with self._engine.connect() as conn:
            reason = await conn.scalar(query)
        return None if reason is None else str(reason)

    async def add_request(self, requester: str, invitee: str, reason: str, now_ms: int) -> None:
        put = self._insert(contact_requests).values(
            requester=requester, invitee=invitee, reason=reason, created_ms=now_ms
        )
        put = put.on_conflict_do_update(
            index_elements=["requester", "invitee"],
            set_={"reason": put.excluded.reason, "created_ms": put.excluded.created_ms},
        )
        async with self._engine.begin() as conn:
            await conn.execute(put)

    async def remove_request(self, requester: str, invitee: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(contact_requests).where(
                    contact_requests.c.requester == requester,
                    contact_requests.c.invitee == invitee,
                )
            )
        return bool(result.rowcount)

    # -- block lists ---------------------------------------------------------------------

    async def blocked(self, owner: str) -> list[str]:
        query = (
            select(users.c.username)
            .join(users, users.c.id == user_blocks.c.blocked)
            .where(user_blocks.c.owner == owner)
            .order_by(user_blocks.c.created_ms.desc(), users.c.username)
        )
        return [row.username for row in await self._names(query)]

    async def blocked_ids(self, owner: str) -> set[str]:
        rows = await self._names(select(user_blocks.c.blocked).where(user_blocks.c.owner == owner))
        return {row.blocked for row in rows}

    async def block(self, owner: str, user_ids: Sequence[str], now_ms: int) -> None:
        if not user_ids:
            return
        rows = [{"owner": owner, "blocked": b, "created_ms": now_ms} for b in user_ids]
        async with self._engine.begin() as conn:
            await conn.execute(self._insert(user_blocks).on_conflict_do_nothing(), rows)

    async def unblock(self, owner: str, user_ids: Sequence[str]) -> None:
        if not user_ids:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(user_blocks).where(
                    user_blocks.c.owner == owner, user_blocks.c.blocked.in_(list(user_ids))
                )
            )
