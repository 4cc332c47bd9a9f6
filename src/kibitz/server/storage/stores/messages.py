"""SQL adapter for ``MessageStore``: writes go through the group-commit writer, reads come
from memory when the cache can answer (online delivery) and from the tables otherwise
(logins, UNREAD summaries, offline pulls).

A conversation's queue is read by many users' devices: its rows belong to the conversation
(``rows_owner``), the cursor to the device (owner, resource), and the one device that skips
a row is named by ``member_device(owner, resource)``. For a user's own queue all three are
the device's owner and resource, through the same statements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from kibitz.protocol import IdGenerator
from kibitz.server.domain.delivery import member_device
from kibitz.server.domain.messaging import Device, Draft, QueueCount, Registered, Stored
from kibitz.server.domain.ports import Clock

from ..schema import cursors, devices, inbox, messages, queues, users
from .message_cache import MessageCache
from .message_writer import MessageWriter
from .pg_reads import PgReads

__all__ = ["SqlMessageStore"]


class SqlMessageStore:
    def __init__(
        self,
        engine: AsyncEngine,
        ids: IdGenerator,
        clock: Clock,
        *,
        cache: bool = True,
        max_batch: int = 512,
        shared: bool = False,
    ) -> None:
        """``shared``: other nodes write to the same database. Ids then come from above a
        floor kept in the database (so they grow in commit order across nodes), and there
        is no in-memory cache (another node's writes would make it lie)."""
        self._engine = engine
        self._cache = MessageCache() if cache and not shared else None
        self._writer = MessageWriter(
            engine, ids, clock, self._cache, max_batch=max_batch, shared=shared
        )
        self._pg = (
            PgReads(
                engine.url,
                {"pull": _PULL, "unread": _UNREAD, "cursors": _CURSORS},
                max_size=engine.pool.size() if hasattr(engine.pool, "size") else 8,
            )
            if engine.dialect.name == "postgresql"
            else None
        )

    # -- lifecycle -----------------------------------------------------------------------

    def watch_commits(self, observer: Callable[[float, int], None]) -> None:
        """``observer(seconds, jobs)`` after every commit (the /metrics histogram)."""
        self._writer.on_commit = observer

    @property
    def queued(self) -> int:
        return self._writer.queued

    async def start(self) -> None:
        if self._pg is not None:
            await self._pg.start()
        await self._writer.start()

    async def aclose(self) -> None:
        """Write everything already queued, then stop."""
        await self._writer.aclose()
        if self._pg is not None:
            await self._pg.aclose()

    # -- writes --------------------------------------------------------------------------

    async def append(self, drafts: Sequence[Draft]) -> list[Stored]:
        """The message rows and exactly the drafts' inbox rows (and their queue heads)."""
        return await self._writer.append(drafts)

    async def ack(self, owner: str, resource: str, queue: str, key: int) -> None:
        await self._writer.ack(owner, resource, queue, key)

    def ack_later(self, owner: str, resource: str, queue: str, key: int) -> None:
        self._writer.ack_nowait(owner, resource, queue, key)

    async def register_device(self, owner: str, resource: str, now_ms: int) -> Registered:
        return await self._writer.register_device(owner, resource, now_ms)

    # -- the devices online here ---------------------------------------------------------

    async def online(self, owner: str, resource: str) -> dict[str, int]:
        """A device logged in on this node: its cursors, kept in memory until it leaves."""
        await self._writer.settled(owner, resource)
        params = {"owner": owner, "resource": resource}
        if self._pg is not None:
            known = {r[0]: int(r[1]) for r in await self._pg.fetch("cursors", params)}
        else:
            async with self._engine.connect() as conn:
                rows = await conn.execute(_CURSORS, params)
                known = {row[0]: int(row[1]) for row in rows}
        if self._cache is not None:
            self._cache.load_cursors(owner, resource, known)
        return known

    def offline(self, owner: str, resource: str) -> None:
        if self._cache is not None:
            self._cache.forget_device(owner, resource)

    # -- reads ---------------------------------------------------------------------------

    async def user_ids(self, app_pk: str, usernames: Sequence[str]) -> dict[str, str]:
        if not usernames:
            return {}
        async with self._engine.connect() as conn:
            rows = await conn.execute(_USER_IDS, {"app_pk": app_pk, "names": list(usernames)})
            return {row[0]: row[1] for row in rows}

    async def unread(
        self, owner: str, resource: str, conversations: Sequence[tuple[str, str]] = ()
    ) -> list[QueueCount]:
        await self._writer.settled(owner, resource)
        params = {"owner": owner, "resource": resource}
        if self._pg is not None and not conversations:
            found = await self._pg.fetch("unread", params)
            return [QueueCount(queue=r[0], count=int(r[1]), last_id=int(r[2])) for r in found]
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_UNREAD, params)).all()
            if conversations:
                more = {
                    **params,
                    "skip": member_device(owner, resource),
                    "pairs": list(conversations),
                }
                rows += (await conn.execute(_UNREAD_CONVERSATIONS, more)).all()
                rows.sort(key=lambda r: int(r[2]))
        return [QueueCount(queue=r[0], count=int(r[1]), last_id=int(r[2])) for r in rows]

    async def pull(
        self,
        owner: str,
        resource: str,
        queue: str,
        after: int,
        limit: int,
        rows_owner: str | None = None,
    ) -> list[tuple[int, bytes]]:
        skip = resource if rows_owner is None else member_device(owner, resource)
        rows_owner = owner if rows_owner is None else rows_owner
        if self._cache is not None:
            hit = self._cache.pull(owner, resource, queue, after, limit, rows_owner, skip)
            if hit is not None:
                return hit
        await self._writer.settled(owner, resource, queue, after)
        params = {
            "rows_owner": rows_owner,
            "owner": owner,
            "resource": resource,
            "skip": skip,
            "queue": queue,
            "after": after,
            "limit": limit,
        }
        if self._pg is not None:
            return [(int(r[0]), bytes(r[1])) for r in await self._pg.fetch("pull", params)]
        async with self._engine.connect() as conn:
            return [(int(r[0]), bytes(r[1])) for r in await conn.execute(_PULL, params)]

    async def nth_newest(self, rows_owner: str, queue: str, n: int) -> int:
        """The id of the queue's (n+1)-th newest row: a cursor there leaves the n newest
        unread (0 when the queue holds no more than n)."""
        query = (
            select(inbox.c.msg_id)
            .where(inbox.c.owner == rows_owner, inbox.c.queue == queue)
            .order_by(inbox.c.msg_id.desc())
            .offset(n)
            .limit(1)
        )
        async with self._engine.connect() as conn:
            found = await conn.scalar(query)
        return int(found or 0)

    async def devices(self, owner: str) -> list[Device]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(_DEVICES, {"owner": owner})
            return [Device(r[0], int(r[1]), int(r[2])) for r in rows]


def _visible_to(skip: BindParameter[str]) -> ColumnElement[bool]:
    """Inbox rows a device pulls: all but copies of what that very device sent (``skip``:
    its resource in its own queues, its ``member_device`` in a conversation's)."""
    return or_(inbox.c.skip_resource.is_(None), inbox.c.skip_resource != skip)


# Statements built once, with bind parameters: building one costs more than running it.
_owner: BindParameter[str] = bindparam("owner")
_resource: BindParameter[str] = bindparam("resource")
_queue: BindParameter[str] = bindparam("queue")
_skip: BindParameter[str] = bindparam("skip")

_CURSORS = select(cursors.c.queue, cursors.c.acked).where(
    cursors.c.owner == _owner, cursors.c.resource == _resource
)

_USER_IDS = select(users.c.username, users.c.id).where(
    users.c.app_pk == bindparam("app_pk"), users.c.username.in_(bindparam("names", expanding=True))
)

_acked = func.coalesce(cursors.c.acked, 0)


def _unread(where: ColumnElement[bool], skip: BindParameter[str]) -> Select[Any]:
    """Per queue (those ``where`` picks): how many rows past the device's cursor it will
    see, and the queue's newest id."""
    return (
        select(
            queues.c.queue,
            select(func.count())
            .select_from(inbox)
            .where(
                inbox.c.owner == queues.c.owner,
                inbox.c.queue == queues.c.queue,
                inbox.c.msg_id > _acked,
                _visible_to(skip),
            )
            .scalar_subquery(),
            queues.c.last_id,
        )
        .select_from(
            queues.outerjoin(
                cursors,
                and_(
                    cursors.c.owner == _owner,
                    cursors.c.resource == _resource,
                    cursors.c.queue == queues.c.queue,
                ),
            )
        )
        .where(where, queues.c.last_id > _acked)
        .order_by(queues.c.last_id)
    )


_UNREAD = _unread(queues.c.owner == _owner, _resource)
_UNREAD_CONVERSATIONS = _unread(
    tuple_(queues.c.owner, queues.c.queue).in_(bindparam("pairs", expanding=True)), _skip
)

_cursor = (
    select(cursors.c.acked)
    .where(cursors.c.owner == _owner, cursors.c.resource == _resource, cursors.c.queue == _queue)
    .scalar_subquery()
)
_PULL = (
    select(inbox.c.msg_id, messages.c.meta)
    .select_from(inbox.join(messages, messages.c.id == inbox.c.msg_id))
    .where(
        inbox.c.owner == bindparam("rows_owner"),
        inbox.c.queue == _queue,
        inbox.c.msg_id > bindparam("after"),
        inbox.c.msg_id > func.coalesce(_cursor, 0),
        _visible_to(_skip),
    )
    .order_by(inbox.c.msg_id)
    .limit(bindparam("limit"))
)

_DEVICES = (
    select(devices.c.resource, devices.c.created_ms, devices.c.last_seen_ms)
    .where(devices.c.owner == _owner)
    .order_by(devices.c.last_seen_ms.desc(), devices.c.resource)
)
