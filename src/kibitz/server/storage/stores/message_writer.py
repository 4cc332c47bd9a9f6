"""The single group-commit writer behind the message store.

Every write (messages, acknowledgements, device logins) is a job on one bounded queue. One
task takes whatever is queued, up to ``max_batch`` jobs, and writes it in one transaction:
one fsync for many sends, and on SQLite no two writers fighting over the lock. A send is
answered only after its transaction commits; ids are assigned here, in commit order, which
is what makes "acknowledge everything ≤ key" safe. Each transaction only writes (the lookups
it needs run before it), so SQLite never has to upgrade a read transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import case, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kibitz.protocol import IdGenerator
from kibitz.server.domain.messaging import Draft, Stored
from kibitz.server.domain.ports import Clock

from ..schema import cursors, devices, inbox, messages, queues, users
from .message_cache import MessageCache
from .sqlite_batch import DeviceLogin, SqliteBatch, sqlite_path

__all__ = ["KEEP_DEVICES", "MessageWriter"]

log = logging.getLogger(__name__)

KEEP_DEVICES: Final = 32  # per user; older, idle resources lose their cursors
_MAX_IDS: Final = 100_000  # cached username → user id


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
    done: asyncio.Future[None]


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


class MessageWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        ids: IdGenerator,
        clock: Clock,
        cache: MessageCache | None,
        *,
        max_batch: int = 512,
        max_queued: int = 8192,
        direct: bool = True,
    ) -> None:
        self._engine = engine
        # On a SQLite file the whole batch goes to one sqlite3 connection in one thread hop;
        # PostgreSQL (and in-memory SQLite) write through the engine.
        path = sqlite_path(engine.url) if direct else None
        self._direct = SqliteBatch(path) if path is not None else None
        self._ids = ids
        self._clock = clock
        self._cache = cache
        self._max_batch = max_batch
        self._jobs: asyncio.Queue[_Job | None] = asyncio.Queue(max_queued)
        self._task: asyncio.Task[None] | None = None
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._user_ids: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._acks: dict[tuple[str, str], asyncio.Future[None]] = {}
        # Devices per user, as of its last login here. A sender with one device needs no
        # copies for "its other devices" (a later device starts past them anyway).
        self._device_counts: OrderedDict[str, int] = OrderedDict()
        self._last_id = 0
        # Built once: building an upsert costs more than executing it for a small batch.
        ins_q = self._insert(queues)
        self._queues_upsert = ins_q.on_conflict_do_update(
            index_elements=[queues.c.owner, queues.c.queue],
            set_={"last_id": _greatest(ins_q.excluded.last_id, queues.c.last_id)},
        )
        ins_c = self._insert(cursors)
        self._cursors_upsert = ins_c.on_conflict_do_update(
            index_elements=[cursors.c.owner, cursors.c.resource, cursors.c.queue],
            set_={"acked": _greatest(ins_c.excluded.acked, cursors.c.acked)},
        )
        self._messages_insert = messages.insert()
        self._inbox_insert = inbox.insert()

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None

    async def start(self) -> None:
        if self._task is None:
            # Ids must keep growing across restarts even if the clock stepped back
            # (a device that acknowledged id X would never see a new message ≤ X).
            async with self._engine.connect() as conn:
                self._last_id = int(await conn.scalar(select(func.max(messages.c.id))) or 0)
            self._task = asyncio.create_task(self._run(), name="message-writer")

    async def aclose(self) -> None:
        """Write everything already queued, then stop (even if the caller is cancelled)."""
        task, self._task = self._task, None
        if task is None:
            return
        await self._jobs.put(None)
        await asyncio.shield(task)
        if self._direct is not None:
            await self._direct.aclose()

    def _future(self) -> asyncio.Future[Any]:
        if self._task is None:
            raise RuntimeError("the message writer is not running")
        return asyncio.get_running_loop().create_future()

    # -- jobs ----------------------------------------------------------------------------

    async def append(self, drafts: Sequence[Draft]) -> list[Stored | None]:
        job = _Append(drafts, self._future())
        await self._jobs.put(job)
        return await job.done

    async def ack(self, owner: str, resource: str, queue: str, key: int) -> None:
        """Queue an acknowledgement; reads of this device wait for it (``settled``)."""
        job = _Ack(owner, resource, queue, key, self._future())
        self._acks[(owner, resource)] = job.done
        if self._cache is not None:
            self._cache.acked(owner, resource, queue, key)
        await self._jobs.put(job)

    def ack_nowait(self, owner: str, resource: str, queue: str, key: int) -> None:
        if self._task is None:
            return
        job = _Ack(owner, resource, queue, key, self._future())
        try:
            self._jobs.put_nowait(job)
        except asyncio.QueueFull:
            return  # bookkeeping only; the next UNREAD retries it
        self._acks[(owner, resource)] = job.done
        if self._cache is not None:
            self._cache.acked(owner, resource, queue, key)

    async def settled(self, owner: str, resource: str) -> None:
        """Every acknowledgement of this device queued so far is written (or has failed)."""
        pending = self._acks.get((owner, resource))
        if pending is not None and not pending.done():
            await asyncio.wait([pending])

    async def register_device(self, owner: str, resource: str, now_ms: int) -> bool:
        job = _Register(owner, resource, now_ms, self._future())
        await self._jobs.put(job)
        return await job.done

    # -- the loop ------------------------------------------------------------------------

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
        logins = [j for j in batch if isinstance(j, _Register)]
        acks = [j for j in batch if isinstance(j, _Ack)]
        try:
            recipients = await self._recipients(batch)
            plan = self._plan(batch, recipients)
            if self._direct is not None:
                registered = await self._direct.commit(
                    [DeviceLogin(j.owner, j.resource, j.now_ms) for j in logins],
                    plan.messages,
                    plan.inbox,
                    _queue_rows(plan),
                    _cursor_rows(acks),
                    KEEP_DEVICES,
                )
            else:
                registered = []
                async with self._engine.begin() as conn:
                    for login in logins:
                        registered.append(await self._register(conn, login))
                    await self._write_messages(conn, plan)
                    await self._write_acks(conn, acks)
        except Exception as exc:
            self._user_ids.clear()  # a deleted user may be why
            if len(batch) > 1:  # find the culprit: everyone else still gets written
                for one in batch:
                    await self._commit([one])
                return
            failed = batch[0]
            _fail(failed, exc)
            if isinstance(failed, _Ack):
                log.warning("acknowledgement not stored: %s", exc)
                if self._acks.get((failed.owner, failed.resource)) is failed.done:
                    del self._acks[(failed.owner, failed.resource)]
            return
        results = dict(zip((id(j) for j in logins), registered, strict=True))
        if self._cache is not None:
            for row in plan.inbox:
                self._cache.committed(
                    row["owner"], row["queue"], row["msg_id"], row["meta"], row["skip_resource"]
                )
        for appended, stored in plan.results:
            _resolve(appended.done, stored)
        for job in batch:
            if isinstance(job, _Register):
                new, count = results[id(job)]
                self._count(job.owner, count)
                _resolve(job.done, new)
            elif isinstance(job, _Ack):
                _resolve(job.done, None)
                if self._acks.get((job.owner, job.resource)) is job.done:
                    del self._acks[(job.owner, job.resource)]

    async def _recipients(self, batch: list[_Job]) -> dict[tuple[str, str], str]:
        """username → user id for every recipient of the batch; one query, cached ids."""
        wanted: dict[str, set[str]] = {}
        for job in batch:
            if isinstance(job, _Append):
                for d in job.drafts:
                    if (d.app_pk, d.recipient) not in self._user_ids:
                        wanted.setdefault(d.app_pk, set()).add(d.recipient)
        for app_pk, names in wanted.items():
            query = select(users.c.username, users.c.id).where(
                users.c.app_pk == app_pk, users.c.username.in_(sorted(names))
            )
            async with self._engine.connect() as conn:
                for name, user_id in await conn.execute(query):
                    self._user_ids[(app_pk, name)] = user_id
        while len(self._user_ids) > _MAX_IDS:
            self._user_ids.popitem(last=False)
        return self._user_ids

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
                msg_id = self._last_id = max(self._ids.next_id(), self._last_id + 1)
                now = self._clock.now_ms()
                meta = d.encode(msg_id, now)
                plan.messages.append(
                    {
                        "id": msg_id,
                        "app_pk": d.app_pk,
                        "chat_type": d.chat_type,
                        "sender": d.sender,
                        "sender_resource": d.sender_resource,
                        "recipient": d.recipient,
                        "created_ms": now,
                        "meta": meta,
                    }
                )
                self_note = to_id == d.sender_id
                if to_id is not None and d.recipient_inbox and not self_note:
                    plan.inbox.append(_row(to_id, d.sender, msg_id, None, meta))
                    plan.queues[(to_id, d.sender)] = msg_id
                if d.sender_id is not None and self._copies_needed(d):
                    plan.inbox.append(_row(d.sender_id, d.sender, msg_id, d.sender_resource, meta))
                    plan.queues[(d.sender_id, d.sender)] = msg_id
                out.append(Stored(msg_id, now))
            plan.results.append((job, out))
        return plan

    def _copies_needed(self, d: Draft) -> bool:
        """Whether the sender has devices, other than the sending one, to copy to."""
        assert d.sender_id is not None
        return not d.sender_resource or self._device_counts.get(d.sender_id, 2) > 1

    # -- SQL -----------------------------------------------------------------------------

    async def _write_messages(self, conn: AsyncConnection, plan: _Plan) -> None:
        if not plan.messages:
            return
        await conn.execute(self._messages_insert, plan.messages)
        if not plan.inbox:
            return
        rows = [{k: v for k, v in row.items() if k != "meta"} for row in plan.inbox]
        await conn.execute(self._inbox_insert, rows)
        await conn.execute(self._queues_upsert, _queue_rows(plan))

    async def _write_acks(self, conn: AsyncConnection, acks: list[_Ack]) -> None:
        if acks:
            await conn.execute(self._cursors_upsert, _cursor_rows(acks))

    async def _register(self, conn: AsyncConnection, job: _Register) -> tuple[bool, int]:
        """(new device?, devices of the user)."""
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
            return False, await self._count_devices(conn, job.owner)
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
        return True, await self._count_devices(conn, job.owner)

    async def _count_devices(self, conn: AsyncConnection, owner: str) -> int:
        count = await conn.scalar(
            select(func.count()).select_from(devices).where(devices.c.owner == owner)
        )
        return int(count or 0)

    def _count(self, owner: str, devices_now: int) -> None:
        self._device_counts[owner] = devices_now
        self._device_counts.move_to_end(owner)
        while len(self._device_counts) > _MAX_IDS:
            self._device_counts.popitem(last=False)


def _queue_rows(plan: _Plan) -> list[dict[str, Any]]:
    return [{"owner": o, "queue": q, "last_id": i} for (o, q), i in plan.queues.items()]


def _cursor_rows(acks: list[_Ack]) -> list[dict[str, Any]]:
    newest: dict[tuple[str, str, str], int] = {}
    for a in acks:
        k = (a.owner, a.resource, a.queue)
        newest[k] = max(newest.get(k, 0), a.key)
    return [
        {"owner": o, "resource": r, "queue": q, "acked": key} for (o, r, q), key in newest.items()
    ]


def _row(owner: str, queue: str, msg_id: int, skip: str | None, meta: bytes) -> dict[str, Any]:
    return {"owner": owner, "queue": queue, "msg_id": msg_id, "skip_resource": skip, "meta": meta}


def _greatest(a: Any, b: Any) -> Any:
    return case((a > b, a), else_=b)


def _resolve(done: asyncio.Future[Any], value: Any) -> None:
    if not done.done():
        done.set_result(value)


def _fail(job: _Job, exc: BaseException) -> None:
    if not job.done.done():
        job.done.set_exception(exc)
        if isinstance(job, _Ack):
            job.done.exception()  # nobody may wait on an acknowledgement: mark it seen
