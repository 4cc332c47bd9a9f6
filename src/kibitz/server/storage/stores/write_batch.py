"""The group-commit transaction, once: its statements and its steps, with no I/O.

``transaction(batch)`` is a generator. It yields ``Step``s — a statement, its parameters
(a dict, or a list of dicts for executemany) and what the caller must send back (nothing,
the row count, or the first column of the first row) — and returns what was ``Written``.
An executor (``write_executors``) runs the steps inside one transaction, on a ``sqlite3``
connection in one thread hop or on an SQLAlchemy ``AsyncConnection``; this module decides
what is written, in what order, and which ids the messages get.

The statements are built once, at import, with bind parameters (building an upsert costs
more than running it for a small batch), once per dialect because upserts are dialect
specific: ``STATEMENTS["sqlite"]``, ``STATEMENTS["postgresql"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, NamedTuple

from sqlalchemy import BigInteger, Integer, String, bindparam, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

from kibitz.server.domain.messaging import Draft, Stored

from ..schema import cursors, devices, id_floor, inbox, messages, queues

__all__ = [
    "STATEMENTS",
    "Batch",
    "Login",
    "Sql",
    "Step",
    "Transaction",
    "Want",
    "Written",
    "transaction",
]

FLOOR_ROW: Final = 1  # the one row of ``id_floor``


class Sql(Enum):
    INSERT_DEVICE = "insert_device"  # rowcount: 1 when the device is new
    TOUCH_DEVICE = "touch_device"
    COPY_CURSORS = "copy_cursors"  # a new device starts at the user's most advanced cursors
    DROP_STALE = "drop_stale"  # all but the ``b_keep`` most recently seen devices
    COUNT_DEVICES = "count_devices"
    INSERT_MESSAGES = "insert_messages"
    INSERT_INBOX = "insert_inbox"
    UPSERT_QUEUES = "upsert_queues"  # the greater last_id wins
    UPSERT_CURSORS = "upsert_cursors"  # the greater acked wins
    READ_FLOOR = "read_floor"  # shared mode: locks the row until COMMIT
    WRITE_FLOOR = "write_floor"
    SEED_FLOOR = "seed_floor"  # at start: the row exists, not below ``floor``
    MAX_MESSAGE_ID = "max_message_id"


class Want(Enum):
    NOTHING = 0
    ROWCOUNT = 1
    SCALAR = 2  # first column of the first row, None without rows


class Step(NamedTuple):
    sql: Sql
    params: dict[str, Any] | list[dict[str, Any]]  # a list: executemany
    want: Want = Want.NOTHING


Transaction = Generator[Step, Any, "Written"]


@dataclass(frozen=True, slots=True)
class Login:
    owner: str
    resource: str
    now_ms: int


@dataclass(slots=True)
class Batch:
    """One group commit. ``candidates`` holds an id per draft, drawn in order from the
    node's generator before the transaction; they are lifted above ``last_id`` (and, in
    shared mode, above the floor read inside the transaction) and stay increasing."""

    logins: Sequence[Login] = ()
    drafts: Sequence[Draft] = ()
    candidates: Sequence[int] = ()
    now_ms: int = 0
    cursors: Sequence[dict[str, Any]] = ()  # owner, resource, queue, acked
    last_id: int = 0
    shared: bool = False
    keep_devices: int = 32


@dataclass(slots=True)
class Written:
    logins: list[tuple[bool, int]] = field(default_factory=list)  # (new?, devices of user)
    stored: list[Stored] = field(default_factory=list)  # one per draft
    # (owner, queue, msg_id, meta, skip_resource) per inbox row, for the cache
    rows: list[tuple[str, str, int, bytes, str | None]] = field(default_factory=list)
    last_id: int = 0


def transaction(batch: Batch) -> Transaction:
    """The steps of one group commit; see the module docstring."""
    floor = 0
    if batch.shared and batch.drafts:
        # Serialises every node's commits that carry messages; ids go above it.
        floor = int((yield Step(Sql.READ_FLOOR, {"row": FLOOR_ROW}, Want.SCALAR)) or 0)
    out = Written(last_id=batch.last_id)
    message_rows, inbox_rows, heads = _plan(batch, floor, out)
    for login in batch.logins:
        out.logins.append((yield from _login(login, batch.keep_devices)))
    if message_rows:
        yield Step(Sql.INSERT_MESSAGES, message_rows)
    if inbox_rows:
        yield Step(Sql.INSERT_INBOX, inbox_rows)
        yield Step(
            Sql.UPSERT_QUEUES,
            [{"owner": o, "queue": q, "last_id": i} for (o, q), i in heads.items()],
        )
    if batch.cursors:
        yield Step(Sql.UPSERT_CURSORS, list(batch.cursors))
    if batch.shared and message_rows:
        yield Step(Sql.WRITE_FLOOR, {"row": FLOOR_ROW, "floor": out.last_id})
    return out


def _plan(
    batch: Batch, floor: int, out: Written
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[tuple[str, str], int]]:
    """Ids, Meta bytes and rows for every draft of the batch."""
    message_rows: list[dict[str, Any]] = []
    inbox_rows: list[dict[str, Any]] = []
    heads: dict[tuple[str, str], int] = {}
    last = max(out.last_id, floor)
    now = batch.now_ms
    for d, candidate in zip(batch.drafts, batch.candidates, strict=True):
        msg_id = last = candidate if candidate > last else last + 1
        meta = d.encode(msg_id, now)
        message_rows.append(
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
        for row in d.rows:
            owner, queue, skip = row.owner, row.queue, row.skip_resource
            inbox_rows.append(
                {"owner": owner, "queue": queue, "msg_id": msg_id, "skip_resource": skip}
            )
            heads[(owner, queue)] = msg_id
            out.rows.append((owner, queue, msg_id, meta, skip))
        out.stored.append(Stored(msg_id, now))
    out.last_id = last
    return message_rows, inbox_rows, heads


def _login(login: Login, keep: int) -> Generator[Step, Any, tuple[bool, int]]:
    params = {"b_owner": login.owner, "b_resource": login.resource, "b_now": login.now_ms}
    new = (yield Step(Sql.INSERT_DEVICE, params, Want.ROWCOUNT)) == 1
    if new:
        yield Step(Sql.COPY_CURSORS, params)
        yield Step(Sql.DROP_STALE, {**params, "b_keep": keep})
    else:
        yield Step(Sql.TOUCH_DEVICE, params)
    count = yield Step(Sql.COUNT_DEVICES, params, Want.SCALAR)
    return new, int(count or 0)


# -- the statements ------------------------------------------------------------------------


def _greatest(a: Any, b: Any) -> Any:
    return case((a > b, a), else_=b)


def _statements(insert: Callable[..., Any]) -> dict[Sql, Executable]:
    # Not named after columns: SQLAlchemy would take such parameters for VALUES / SET.
    owner = bindparam("b_owner", type_=String)
    resource = bindparam("b_resource", type_=String)
    now_ms = bindparam("b_now", type_=BigInteger)
    row = bindparam("row", type_=Integer)
    floor = bindparam("floor", type_=BigInteger)
    ins_q = insert(queues)
    ins_c = insert(cursors)
    ins_f = insert(id_floor)
    stale = (
        select(devices.c.resource)
        .where(devices.c.owner == owner)
        .order_by(devices.c.last_seen_ms.desc(), devices.c.resource)
        .offset(bindparam("b_keep", type_=Integer))
    )
    return {
        Sql.INSERT_DEVICE: insert(devices)
        .values(owner=owner, resource=resource, created_ms=now_ms, last_seen_ms=now_ms)
        .on_conflict_do_nothing(),
        Sql.TOUCH_DEVICE: update(devices)
        .where(devices.c.owner == owner, devices.c.resource == resource)
        .values(last_seen_ms=now_ms),
        Sql.COPY_CURSORS: cursors.insert().from_select(
            ["owner", "resource", "queue", "acked"],
            select(owner, resource, cursors.c.queue, func.max(cursors.c.acked))
            .where(cursors.c.owner == owner, cursors.c.resource != resource)
            .group_by(cursors.c.queue),
        ),
        Sql.DROP_STALE: delete(devices).where(
            devices.c.owner == owner, devices.c.resource.in_(stale)
        ),
        Sql.COUNT_DEVICES: select(func.count())
        .select_from(devices)
        .where(devices.c.owner == owner),
        Sql.INSERT_MESSAGES: messages.insert(),
        Sql.INSERT_INBOX: inbox.insert(),
        Sql.UPSERT_QUEUES: ins_q.on_conflict_do_update(
            index_elements=[queues.c.owner, queues.c.queue],
            set_={"last_id": _greatest(ins_q.excluded.last_id, queues.c.last_id)},
        ),
        Sql.UPSERT_CURSORS: ins_c.on_conflict_do_update(
            index_elements=[cursors.c.owner, cursors.c.resource, cursors.c.queue],
            set_={"acked": _greatest(ins_c.excluded.acked, cursors.c.acked)},
        ),
        Sql.READ_FLOOR: select(id_floor.c.last_id).where(id_floor.c.id == row).with_for_update(),
        Sql.WRITE_FLOOR: update(id_floor).where(id_floor.c.id == row).values(last_id=floor),
        Sql.SEED_FLOOR: ins_f.values(id=row, last_id=floor).on_conflict_do_update(
            index_elements=[id_floor.c.id],
            set_={"last_id": _greatest(ins_f.excluded.last_id, id_floor.c.last_id)},
        ),
        Sql.MAX_MESSAGE_ID: select(func.max(messages.c.id)),
    }


STATEMENTS: Final[dict[str, dict[Sql, Executable]]] = {
    "sqlite": _statements(sqlite.insert),
    "postgresql": _statements(postgresql.insert),
}
