"""SQL adapter for ``PresenceStore``: a ``presence`` row per user (description, published
statuses as JSON, last change) and a ``presence_subscriptions`` row per follower and
target, read by target for the fan-out (``ix_presence_subscriptions_target``)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, delete, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kibitz.server.domain.presence import PresenceState, Subscription

from ..schema import apps, presence, presence_subscriptions, users

__all__ = ["SqlPresenceStore"]

_subs = presence_subscriptions
_target = users.alias("target")
_follower = users.alias("follower")


class _NoRoom(Exception):
    """Rolls a subscribe back: the limit holds even after displacing what may go."""


def _dump(statuses: Mapping[str, str]) -> str:
    return json.dumps(dict(statuses), ensure_ascii=False, separators=(",", ":"))


async def _user_id(conn: AsyncConnection, app_pk: str, username: str) -> str | None:
    found = await conn.scalar(
        select(users.c.id).where(users.c.app_pk == app_pk, users.c.username == username)
    )
    return None if found is None else str(found)


async def _save(
    conn: AsyncConnection, user_id: str, values: dict[str, Any], *, exists: bool
) -> None:
    if exists:
        await conn.execute(update(presence).where(presence.c.user_id == user_id).values(values))
    else:
        row = {"ext": "", "statuses": "{}", "last_ms": 0, **values, "user_id": user_id}
        await conn.execute(insert(presence).values(row))


async def _current(conn: AsyncConnection, user_id: str) -> Any:
    query = select(presence).where(presence.c.user_id == user_id).with_for_update()
    return (await conn.execute(query)).first()


class SqlPresenceStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def app_key(self, app_pk: str) -> str | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(apps.c.org_name, apps.c.app_name).where(apps.c.id == app_pk)
                )
            ).first()
        return None if row is None else f"{row.org_name}#{row.app_name}"

    async def publish(
        self,
        app_pk: str,
        username: str,
        resource: str,
        status: str,
        ext: str,
        keep: Collection[str],
        now_ms: int,
    ) -> bool:
        async with self._engine.begin() as conn:
            user_id = await _user_id(conn, app_pk, username)
            if user_id is None:
                return False
            row = await _current(conn, user_id)
            statuses = json.loads(row.statuses) if row else {}
            statuses = {r: s for r, s in statuses.items() if r in keep}
            statuses[resource] = status
            values = {"ext": ext, "statuses": _dump(statuses), "last_ms": now_ms}
            await _save(conn, user_id, values, exists=row is not None)
        return True

    async def touch(self, app_pk: str, username: str, now_ms: int, drop: Collection[str]) -> None:
        if not drop:  # a login: one statement, no read (logins come in bursts)
            found = select(
                users.c.id, literal(""), literal("{}"), literal(now_ms, BigInteger)
            ).where(users.c.app_pk == app_pk, users.c.username == username)
            stmt = self._insert(presence).from_select(
                ["user_id", "ext", "statuses", "last_ms"], found
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["user_id"], set_={"last_ms": stmt.excluded.last_ms}
            )
            async with self._engine.begin() as conn:
                await conn.execute(stmt)
            return
        async with self._engine.begin() as conn:
            user_id = await _user_id(conn, app_pk, username)
            if user_id is None:
                return
            row = await _current(conn, user_id)
            values: dict[str, Any] = {"last_ms": now_ms}
            if row is not None and drop:
                statuses = json.loads(row.statuses)
                values["statuses"] = _dump({r: s for r, s in statuses.items() if r not in drop})
            await _save(conn, user_id, values, exists=row is not None)

    async def states(self, app_pk: str, usernames: Sequence[str]) -> dict[str, PresenceState]:
        if not usernames:
            return {}
        query = (
            select(users.c.username, presence.c.ext, presence.c.statuses, presence.c.last_ms)
            .select_from(users.outerjoin(presence, presence.c.user_id == users.c.id))
            .where(users.c.app_pk == app_pk, users.c.username.in_(list(usernames)))
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {
            row.username: PresenceState()
            if row.last_ms is None
            else PresenceState(row.ext, json.loads(row.statuses), row.last_ms)
            for row in rows
        }

    async def subscribe(
        self,
        app_pk: str,
        subscriber: str,
        targets: Sequence[str],
        expires_ms: int,
        now_ms: int,
        limit: int,
    ) -> list[str] | None:
        try:
            async with self._engine.begin() as conn:
                me = await _user_id(conn, app_pk, subscriber)
                if me is None:
                    return []
                found = (
                    await conn.execute(
                        select(users.c.id, users.c.username).where(
                            users.c.app_pk == app_pk,
                            users.c.username.in_(list(targets)),
                            users.c.id != me,
                        )
                    )
                ).all()
                ids = {row.id: row.username for row in found}
                await conn.execute(
                    delete(_subs).where(
                        _subs.c.subscriber == me,
                        (_subs.c.expires_ms <= now_ms) | _subs.c.target.in_(list(ids)),
                    )
                )
                if ids:
                    await conn.execute(
                        insert(_subs),
                        [{"subscriber": me, "target": t, "expires_ms": expires_ms} for t in ids],
                    )
                count = int(
                    await conn.scalar(
                        select(func.count()).select_from(_subs).where(_subs.c.subscriber == me)
                    )
                    or 0
                )
                if count > limit:
                    await self._make_room(conn, me, count - limit, expires_ms)
        except _NoRoom:
            return None
        wanted = [u for u in targets if u in set(ids.values())]
        return wanted

    @staticmethod
    async def _make_room(conn: AsyncConnection, me: str, excess: int, expires_ms: int) -> None:
        """Agora's rule: the subscriptions ending soonest (before the new ones) go."""
        soonest = (
            await conn.execute(
                select(_subs.c.target)
                .where(_subs.c.subscriber == me, _subs.c.expires_ms < expires_ms)
                .order_by(_subs.c.expires_ms, _subs.c.target)
                .limit(excess)
            )
        ).all()
        if len(soonest) < excess:
            raise _NoRoom
        await conn.execute(
            delete(_subs).where(
                _subs.c.subscriber == me, _subs.c.target.in_([row.target for row in soonest])
            )
        )

    async def unsubscribe(self, app_pk: str, subscriber: str, targets: Sequence[str]) -> None:
        target_ids = select(users.c.id).where(
            users.c.app_pk == app_pk, users.c.username.in_(list(targets))
        )
        me = (
            select(users.c.id)
            .where(users.c.app_pk == app_pk, users.c.username == subscriber)
            .scalar_subquery()
        )
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(_subs).where(_subs.c.subscriber == me, _subs.c.target.in_(target_ids))
            )

    def _of(self, app_pk: str, subscriber: str, now_ms: int) -> Any:
        return (
            select(_target.c.username, _subs.c.expires_ms)
            .select_from(
                _subs.join(_follower, _follower.c.id == _subs.c.subscriber).join(
                    _target, _target.c.id == _subs.c.target
                )
            )
            .where(
                _follower.c.app_pk == app_pk,
                _follower.c.username == subscriber,
                _subs.c.expires_ms > now_ms,
            )
        )

    async def subscriptions(
        self, app_pk: str, subscriber: str, now_ms: int, offset: int, limit: int
    ) -> tuple[int, list[Subscription]]:
        query = self._of(app_pk, subscriber, now_ms)
        async with self._engine.connect() as conn:
            total = int(await conn.scalar(select(func.count()).select_from(query.subquery())) or 0)
            rows = (
                await conn.execute(query.order_by(_target.c.username).offset(offset).limit(limit))
            ).all()
        return total, [Subscription(row.username, row.expires_ms) for row in rows]

    async def expiries(
        self, app_pk: str, subscriber: str, targets: Sequence[str], now_ms: int
    ) -> dict[str, int]:
        query = self._of(app_pk, subscriber, now_ms).where(_target.c.username.in_(list(targets)))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.username: row.expires_ms for row in rows}

    async def subscribers(self, app_pk: str, target: str, now_ms: int) -> list[Subscription]:
        query = (
            select(_follower.c.username, _subs.c.expires_ms)
            .select_from(
                _subs.join(_target, _target.c.id == _subs.c.target).join(
                    _follower, _follower.c.id == _subs.c.subscriber
                )
            )
            .where(
                _target.c.app_pk == app_pk,
                _target.c.username == target,
                _subs.c.expires_ms > now_ms,
            )
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Subscription(row.username, row.expires_ms) for row in rows]
