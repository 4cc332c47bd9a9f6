"""SQL adapter for ``MessageStore``: reads here, writes through one group-commit writer.

Every write (messages, acknowledgements, device logins) goes through a single task that
takes whatever is queued, up to ``max_batch`` jobs, and writes it in one transaction: one
fsync for many sends, and on SQLite no two writers fighting over the lock. A send is
acknowledged only after its transaction commits. Ids are assigned by the writer, so they
are committed in increasing order, which is what makes "acknowledge everything ≤ key" safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import and_, case, delete, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kibitz.protocol import IdGenerator
from kibitz.server.domain.messaging import Device, Draft, QueueCount, Stored
from kibitz.server.domain.ports import Clock

from ..schema import cursors, devices, inbox, messages, queues, users

__all__ = ["SqlMessageStore"]

log = logging.getLogger(__name__)

KEEP_DEVICES: Final = 32  # per user; older, idle resources lose their cursors


@dataclass(slots=True)
class _Append:
    drafts: Sequence[Draft]
    done: asyncio.Future[list[Stored | None]]


@dataclass(slots=True)
class _Ack:
    owner: str
    resource: str
    queue: str
    key: int
    done: asyncio.Future[None] | None


@dataclass(slots=True)
class _Register:
    owner: str
    resource: str
    now_ms: int
    done: asyncio.Future[bool]


_Job = _Append | _Ack | _Register


@dataclass(slots=True)
class _Plan:
    """The rows of one transaction and what each job gets back once it commits."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    inbox: list[dict[str, Any]] = field(default_factory=list)
    queues: dict[tuple[str, str], int] = field(default_factory=dict)
    results: list[tuple[_Append, list[Stored | None]]] = field(default_factory=list)


class SqlMessageStore:
    def __init__(
        self,
        engine: AsyncEngine,
        ids: IdGenerator,
        clock: Clock,
        *,
        max_batch: int = 512,
        max_queued: int = 8192,
    ) -> None:
        self._engine = engine
        self._ids = ids
        self._clock = clock
        self._max_batch = max_batch
        self._jobs: asyncio.Queue[_Job | None] = asyncio.Queue(max_queued)
        self._task: asyncio.Task[None] | None = None
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="message-writer")

    async def aclose(self) -> None:
        """Write everything already queued, then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        await self._jobs.put(None)
        await task

    async def _submit(self, job: _Job) -> None:
        if self._task is None:
            raise RuntimeError("the message writer is not running")
        await self._jobs.put(job)

    # -- MessageStore: writes ------------------------------------------------------------

    async def append(self, drafts: Sequence[Draft]) -> list[Stored | None]:
        done: asyncio.Future[list[Stored | None]] = asyncio.get_running_loop().create_future()
        await self._submit(_Append(drafts, done))
        return await done

    async def ack(self, owner: str, resource: str, queue: str, key: int) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._submit(_Ack(owner, resource, queue, key, done))
        await done

    def ack_later(self, owner: str, resource: str, queue: str, key: int) -> None:
        if self._task is not None:
            try:
                self._jobs.put_nowait(_Ack(owner, resource, queue, key, None))
            except asyncio.QueueFull:
                pass  # bookkeeping only; the next UNREAD retries it

    async def register_device(self, owner: str, resource: str, now_ms: int) -> bool:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._submit(_Register(owner, resource, now_ms, done))
        return await done

    # -- the writer ----------------------------------------------------------------------

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            job = await self._jobs.get()
            if job is None:
                break
            batch: list[_Job] = [job]
            while len(batch) < self._max_batch:
                try:
                    more = self._jobs.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            try:
                await self._commit(batch)
            except Exception:  # never let the writer die; _commit already failed the jobs
                log.exception("message writer batch failed")

    async def _commit(self, batch: list[_Job]) -> None:
        try:
            recipients = await self._recipients(batch)
            plan = self._plan(batch, recipients)
            registered: dict[int, bool] = {}
            async with self._engine.begin() as conn:
                for i, job in enumerate(batch):
                    if isinstance(job, _Register):
                        registered[i] = await self._register(conn, job)
                await self._write_messages(conn, plan)
                await self._write_acks(conn, [j for j in batch if isinstance(j, _Ack)])
        except Exception as exc:
            if len(batch) > 1:  # find the culprit: everyone else still gets written
                for job in batch:
                    await self._commit([job])
                return
            _fail(batch[0], exc)
            if isinstance(batch[0], _Ack):
                log.warning("acknowledgement not stored: %s", exc)
            return
        for job, stored in plan.results:
            _resolve(job.done, stored)
        for i, job in enumerate(batch):
            if isinstance(job, _Register):
                _resolve(job.done, registered[i])
            elif isinstance(job, _Ack) and job.done is not None:
                _resolve(job.done, None)

    async def _recipients(self, batch: list[_Job]) -> dict[tuple[str, str], str]:
        wanted: dict[str, set[str]] = {}
        for job in batch:
            if isinstance(job, _Append):
                for d in job.drafts:
                    wanted.setdefault(d.app_pk, set()).add(d.recipient)
        found: dict[tuple[str, str], str] = {}
        for app_pk, names in wanted.items():
            for name, user_id in (await self.user_ids(app_pk, sorted(names))).items():
                found[(app_pk, name)] = user_id
        return found

    def _plan(self, batch: list[_Job], recipients: dict[tuple[str, str], str]) -> _Plan:
        plan = _Plan()
        for job in batch:
            if not isinstance(job, _Append):
                continue
            out: list[Stored | None] = []
            for d in job.drafts:
                to_id = recipients.get((d.app_pk, d.recipient))
                if to_id is None and d.require_recipient:
                    out.append(None)
                    continue
                msg_id = self._ids.next_id()
                now = self._clock.now_ms()
                plan.messages.append(
                    {
                        "id": msg_id,
                        "app_pk": d.app_pk,
                        "chat_type": d.chat_type,
                        "sender": d.sender,
                        "sender_resource": d.sender_resource,
                        "recipient": d.recipient,
                        "created_ms": now,
                        "meta": d.encode(msg_id, now),
                    }
                )
                self_note = to_id == d.sender_id
                if to_id is not None and d.recipient_inbox and not self_note:
                    plan.inbox.append(_row(to_id, d.sender, msg_id, None))
                    plan.queues[(to_id, d.sender)] = msg_id
                if d.sender_id is not None:
                    plan.inbox.append(_row(d.sender_id, d.sender, msg_id, d.sender_resource))
                    plan.queues[(d.sender_id, d.sender)] = msg_id
                out.append(Stored(msg_id, now))
            plan.results.append((job, out))
        return plan

    async def _write_messages(self, conn: AsyncConnection, plan: _Plan) -> None:
        if not plan.messages:
            return
        await conn.execute(messages.insert(), plan.messages)
        if not plan.inbox:
            return
        await conn.execute(inbox.insert(), plan.inbox)
        ins = self._insert(queues)
        stmt = ins.on_conflict_do_update(
            index_elements=[queues.c.owner, queues.c.queue],
            set_={"last_id": _greatest(ins.excluded.last_id, queues.c.last_id)},
        )
        rows = [{"owner": o, "queue": q, "last_id": i} for (o, q), i in plan.queues.items()]
        await conn.execute(stmt, rows)

    async def _write_acks(self, conn: AsyncConnection, acks: list[_Ack]) -> None:
        if not acks:
            return
        newest: dict[tuple[str, str, str], int] = {}
        for a in acks:
            k = (a.owner, a.resource, a.queue)
            newest[k] = max(newest.get(k, 0), a.key)
        ins = self._insert(cursors)
        stmt = ins.on_conflict_do_update(
            index_elements=[cursors.c.owner, cursors.c.resource, cursors.c.queue],
            set_={"acked": _greatest(ins.excluded.acked, cursors.c.acked)},
        )
        rows = [
            {"owner": o, "resource": r, "queue": q, "acked": key}
            for (o, r, q), key in newest.items()
        ]
        await conn.execute(stmt, rows)

    async def _register(self, conn: AsyncConnection, job: _Register) -> bool:
        values = {
            "owner": job.owner,
            "resource": job.resource,
            "created_ms": job.now_ms,
            "last_seen_ms": job.now_ms,
        }
        result = await conn.execute(self._insert(devices).on_conflict_do_nothing(), values)
        if result.rowcount != 1:
            await conn.execute(
                update(devices)
                .where(devices.c.owner == job.owner, devices.c.resource == job.resource)
                .values(last_seen_ms=job.now_ms)
            )
            return False
        # A new device starts where the user's most advanced device is: it must not replay
        # what another device already acknowledged, and still gets what nobody has.
        others = (
            select(
                literal(job.owner),
                literal(job.resource),
                cursors.c.queue,
                func.max(cursors.c.acked),
            )
            .where(cursors.c.owner == job.owner, cursors.c.resource != job.resource)
            .group_by(cursors.c.queue)
        )
        await conn.execute(
            cursors.insert().from_select(["owner", "resource", "queue", "acked"], others)
        )
        stale = (
            select(devices.c.resource)
            .where(devices.c.owner == job.owner)
            .order_by(devices.c.last_seen_ms.desc(), devices.c.resource)
            .offset(KEEP_DEVICES)
        )
        await conn.execute(
            delete(devices).where(devices.c.owner == job.owner, devices.c.resource.in_(stale))
        )
        return True

    # -- MessageStore: reads -------------------------------------------------------------

    async def user_ids(self, app_pk: str, usernames: Sequence[str]) -> dict[str, str]:
        if not usernames:
            return {}
        query = select(users.c.username, users.c.id).where(
            users.c.app_pk == app_pk, users.c.username.in_(list(usernames))
        )
        async with self._engine.connect() as conn:
            return {row[0]: row[1] for row in await conn.execute(query)}

    async def unread(self, owner: str, resource: str) -> list[QueueCount]:
        acked = func.coalesce(cursors.c.acked, 0)
        pending = (
            select(func.count())
            .select_from(inbox)
            .where(
                inbox.c.owner == queues.c.owner,
                inbox.c.queue == queues.c.queue,
                inbox.c.msg_id > acked,
                _visible_to(resource),
            )
            .scalar_subquery()
        )
        query = (
            select(queues.c.queue, pending, queues.c.last_id)
            .select_from(
                queues.outerjoin(
                    cursors,
                    and_(
                        cursors.c.owner == queues.c.owner,
                        cursors.c.resource == resource,
                        cursors.c.queue == queues.c.queue,
                    ),
                )
            )
            .where(queues.c.owner == owner, queues.c.last_id > acked)
            .order_by(queues.c.last_id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [QueueCount(queue=r[0], count=int(r[1]), last_id=int(r[2])) for r in rows]

    async def pull(
        self, owner: str, resource: str, queue: str, after: int, limit: int
    ) -> list[tuple[int, bytes]]:
        cursor = (
            select(cursors.c.acked)
            .where(
                cursors.c.owner == owner,
                cursors.c.resource == resource,
                cursors.c.queue == queue,
            )
            .scalar_subquery()
        )
        query = (
            select(inbox.c.msg_id, messages.c.meta)
            .select_from(inbox.join(messages, messages.c.id == inbox.c.msg_id))
            .where(
                inbox.c.owner == owner,
                inbox.c.queue == queue,
                inbox.c.msg_id > after,
                inbox.c.msg_id > func.coalesce(cursor, 0),
                _visible_to(resource),
            )
            .order_by(inbox.c.msg_id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [(int(r[0]), bytes(r[1])) for r in await conn.execute(query)]

    async def devices(self, owner: str) -> list[Device]:
        query = (
            select(devices.c.resource, devices.c.created_ms, devices.c.last_seen_ms)
            .where(devices.c.owner == owner)
            .order_by(devices.c.last_seen_ms.desc(), devices.c.resource)
        )
        async with self._engine.connect() as conn:
            return [Device(r[0], int(r[1]), int(r[2])) for r in await conn.execute(query)]


def _row(owner: str, queue: str, msg_id: int, skip: str | None) -> dict[str, Any]:
    return {"owner": owner, "queue": queue, "msg_id": msg_id, "skip_resource": skip}


def _visible_to(resource: str) -> Any:
    """Inbox rows a device pulls: all but copies of what that very device sent."""
    return or_(inbox.c.skip_resource.is_(None), inbox.c.skip_resource != resource)


def _greatest(a: Any, b: Any) -> Any:
    return case((a > b, a), else_=b)


def _resolve(done: asyncio.Future[Any], value: Any) -> None:
    if not done.done():
        done.set_result(value)


def _fail(job: _Job, exc: BaseException) -> None:
    future: asyncio.Future[Any] | None = job.done
    if future is not None and not future.done():
        future.set_exception(exc)
