"""The single group-commit writer behind the message store.

Every write (messages, acknowledgements, device logins) is a job on one bounded queue. One
task takes whatever is queued, up to ``max_batch`` jobs, and writes it in one transaction:
one fsync for many sends, and on SQLite no two writers fighting over the lock. A send is
answered only after its transaction commits; ids are assigned here, in commit order, which
is what makes "acknowledge everything ≤ key" safe. The writer decides nothing about who gets
a message: it writes each draft and exactly its inbox rows (the domain chose them).

The transaction itself is ``write_batch.transaction``; ``write_executors`` runs it. With
``shared`` (several nodes, one database) each transaction that carries messages first locks
the ``id_floor`` row and assigns its ids above it, so ids grow in commit order across nodes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncEngine

from kibitz.protocol import IdGenerator
from kibitz.server.domain.messaging import Draft, Registered, Stored
from kibitz.server.domain.ports import Clock

from .message_cache import MessageCache
from .write_batch import FLOOR_ROW, STATEMENTS, Batch, Login, Sql, transaction
from .write_executors import executor_for

__all__ = ["KEEP_DEVICES", "MessageWriter"]

log = logging.getLogger(__name__)

KEEP_DEVICES: Final = 32  # per user; older, idle resources lose their cursors


@dataclass(slots=True)
class _Append:
    drafts: Sequence[Draft]
    done: asyncio.Future[list[Stored]]


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
    done: asyncio.Future[Registered]


_Job = _Append | _Ack | _Register


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
        shared: bool = False,
    ) -> None:
        self._engine = engine
        # On a SQLite file the whole batch goes to one sqlite3 connection in one thread hop;
        # PostgreSQL (and in-memory SQLite) write through the engine.
        self._executor = executor_for(engine, direct=direct)
        self._statements = STATEMENTS[engine.dialect.name]
        self._ids = ids
        self._clock = clock
        self._cache = cache
        self._shared = shared
        self._max_batch = max_batch
        self._jobs: asyncio.Queue[_Job | None] = asyncio.Queue(max_queued)
        self._task: asyncio.Task[None] | None = None
        self._acks: dict[tuple[str, str], asyncio.Future[None]] = {}
        # The newest key queued but not yet committed per (owner, resource, queue): a pull
        # past it reads nothing that the pending acknowledgement would change.
        self._ack_keys: dict[tuple[str, str, str], int] = {}
        self._last_id = 0
        # Told each commit's seconds and job count (the /metrics histogram), if anyone asks.
        self.on_commit: Callable[[float, int], None] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def queued(self) -> int:
        """Jobs waiting for a commit (the /metrics gauge)."""
        return self._jobs.qsize()

    @property
    def running(self) -> bool:
        return self._task is not None

    async def start(self) -> None:
        if self._task is None:
            # Ids must keep growing across restarts even if the clock stepped back
            # (a device that acknowledged id X would never see a new message ≤ X).
            async with self._engine.begin() as conn:
                stmts = self._statements
                self._last_id = int(await conn.scalar(stmts[Sql.MAX_MESSAGE_ID]) or 0)
                if self._shared:  # the floor row exists, and is not below what is written
                    floor = {"row": FLOOR_ROW, "floor": self._last_id}
                    await conn.execute(stmts[Sql.SEED_FLOOR], floor)
            self._task = asyncio.create_task(self._run(), name="message-writer")

    async def aclose(self) -> None:
        """Write everything already queued, then stop (even if the caller is cancelled)."""
        task, self._task = self._task, None
        if task is None:
            return
        await self._jobs.put(None)
        await asyncio.shield(task)
        await self._executor.aclose()

    def _future(self) -> asyncio.Future[Any]:
        if self._task is None:
            raise RuntimeError("the message writer is not running")
        return asyncio.get_running_loop().create_future()

    # -- jobs ----------------------------------------------------------------------------

    async def append(self, drafts: Sequence[Draft]) -> list[Stored]:
        job = _Append(drafts, self._future())
        await self._jobs.put(job)
        return await job.done

    async def ack(self, owner: str, resource: str, queue: str, key: int) -> None:
        """Queue an acknowledgement; reads of this device wait for it (``settled``)."""
        job = _Ack(owner, resource, queue, key, self._future())
        self._acks[(owner, resource)] = job.done
        self._ack_key(owner, resource, queue, key)
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
        self._ack_key(owner, resource, queue, key)
        if self._cache is not None:
            self._cache.acked(owner, resource, queue, key)

    def _ack_key(self, owner: str, resource: str, queue: str, key: int) -> None:
        k = (owner, resource, queue)
        if key > self._ack_keys.get(k, 0):
            self._ack_keys[k] = key

    def _ack_done(self, job: _Ack) -> None:
        k = (job.owner, job.resource, job.queue)
        if self._ack_keys.get(k, 0) <= job.key:
            self._ack_keys.pop(k, None)

    async def settled(
        self, owner: str, resource: str, queue: str | None = None, after: int = 0
    ) -> None:
        """Every acknowledgement of this device queued so far is written (or has failed).

        With ``queue``: only if one of that queue's pending acknowledgements lies past
        ``after`` — a read of that queue past ``after`` cannot see the difference."""
        if queue is not None and self._ack_keys.get((owner, resource, queue), 0) <= after:
            return
        pending = self._acks.get((owner, resource))
        if pending is not None and not pending.done():
            await asyncio.wait([pending])

    async def register_device(self, owner: str, resource: str, now_ms: int) -> Registered:
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
        appends = [j for j in batch if isinstance(j, _Append)]
        try:
            started = time.perf_counter()
            written = await self._executor.run(transaction(self._batch(batch)))
            if self.on_commit is not None:
                self.on_commit(time.perf_counter() - started, len(batch))
        except Exception as exc:
            if len(batch) > 1:  # find the culprit: everyone else still gets written
                for one in batch:
                    await self._commit([one])
                return
            failed = batch[0]
            _fail(failed, exc)
            if isinstance(failed, _Ack):
                log.warning("acknowledgement not stored: %s", exc)
                self._ack_done(failed)
                if self._acks.get((failed.owner, failed.resource)) is failed.done:
                    del self._acks[(failed.owner, failed.resource)]
            return
        self._last_id = written.last_id
        if self._cache is not None:
            for owner, queue, msg_id, meta, skip in written.rows:
                self._cache.committed(owner, queue, msg_id, meta, skip)
        stored = iter(written.stored)
        for appended in appends:
            _resolve(appended.done, [next(stored) for _ in appended.drafts])
        for login, (new, count) in zip(logins, written.logins, strict=True):
            _resolve(login.done, Registered(new, count))
        for job in batch:
            if isinstance(job, _Ack):
                _resolve(job.done, None)
                self._ack_done(job)
                if self._acks.get((job.owner, job.resource)) is job.done:
                    del self._acks[(job.owner, job.resource)]

    def _batch(self, batch: list[_Job]) -> Batch:
        """The transaction's input; an id candidate per draft, drawn here, in order."""
        drafts = [d for j in batch if isinstance(j, _Append) for d in j.drafts]
        return Batch(
            logins=[
                Login(j.owner, j.resource, j.now_ms) for j in batch if isinstance(j, _Register)
            ],
            drafts=drafts,
            candidates=[self._ids.next_id() for _ in drafts],
            now_ms=self._clock.now_ms(),
            cursors=_cursor_rows([j for j in batch if isinstance(j, _Ack)]),
            last_id=self._last_id,
            shared=self._shared,
            keep_devices=KEEP_DEVICES,
        )


def _cursor_rows(acks: list[_Ack]) -> list[dict[str, Any]]:
    newest: dict[tuple[str, str, str], int] = {}
    for a in acks:
        k = (a.owner, a.resource, a.queue)
        newest[k] = max(newest.get(k, 0), a.key)
    return [
        {"owner": o, "resource": r, "queue": q, "acked": key} for (o, r, q), key in newest.items()
    ]


def _resolve(done: asyncio.Future[Any], value: Any) -> None:
    if not done.done():
        done.set_result(value)


def _fail(job: _Job, exc: BaseException) -> None:
    if not job.done.done():
        job.done.set_exception(exc)
        if isinstance(job, _Ack):
            job.done.exception()  # nobody may wait on an acknowledgement: mark it seen
