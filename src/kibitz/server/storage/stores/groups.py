"""SQL adapter for ``GroupStore``.

A group id is a decimal string (a snowflake id); the table keeps the same number as the
BigInteger ``seq``, so an app's groups page in numeric id order along one index
(``ix_groups_app_seq``), whatever the ids' lengths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import Insert, case, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from kibitz.server.domain.conversations import conversation_queue
from kibitz.server.domain.group_models import Group, ListKind, Member, Role, group_key

from ..schema import cursors, group_lists, group_member_attrs, group_members, groups
from .users import delete_mailboxes

__all__ = ["SqlGroupStore"]

_MAX_SEQ: Final = 2**63 - 1
_FIELDS: Final = Group.__slots__
_OWNER_FIRST: Final = case((group_members.c.role == Role.OWNER.value, 0), else_=1)


def _decimal(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _seq(group_id: str) -> int:
    """The id as a number; only ids the generator made (decimal, within BigInteger)."""
    if not _decimal(group_id) or int(group_id) > _MAX_SEQ:
        raise ValueError(f"not a storable group id: {group_id!r}")
    return int(group_id)


def _group_values(group: Group) -> dict[str, Any]:
    return {name: getattr(group, name) for name in _FIELDS}


def _row_to_group(row: Any) -> Group:
    return Group(**{name: row._mapping[name] for name in _FIELDS})


def _member_values(member: Member) -> dict[str, Any]:
    return {
        "group_id": member.group_id,
        "username": member.username,
        "user_id": member.user_id,
        "role": member.role.value,
        "joined_ms": member.joined_ms,
    }


def _row_to_member(row: Any) -> Member:
    return Member(row.group_id, row.username, row.user_id, Role(row.role), row.joined_ms)


class SqlGroupStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Adding someone already in the group leaves their row (role, join time) alone.
        ins: Insert
        if engine.dialect.name == "postgresql":
            ins = postgresql.insert(group_members).on_conflict_do_nothing()
        elif engine.dialect.name == "sqlite":
            ins = sqlite.insert(group_members).on_conflict_do_nothing()
        else:
            raise ValueError(f"no group store for {engine.dialect.name!r}")
        self._add_members = ins
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        put = dialect.insert(group_lists)
        self._put_entries = put.on_conflict_do_update(
            index_elements=["group_id", "kind", "username"],
            set_={"expires_ms": put.excluded.expires_ms, "by_user": put.excluded.by_user},
        )

    async def create(self, group: Group, members: Sequence[Member]) -> None:
        values = {**_group_values(group), "seq": _seq(group.id)}
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(groups).values(**values))
                if members:
                    await conn.execute(insert(group_members), [_member_values(m) for m in members])
        except IntegrityError as exc:
            raise ValueError(f"group {group.id} cannot be created: {exc.orig}") from exc

    async def get(self, app_pk: str, group_id: str) -> Group | None:
        query = select(groups).where(groups.c.app_pk == app_pk, groups.c.id == group_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _row_to_group(row)

    async def group_of(self, group_id: str) -> Group | None:
        query = select(groups).where(groups.c.id == group_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _row_to_group(row)

    async def member_ids(self, group_id: str) -> dict[str, str]:
        query = select(group_members.c.user_id, group_members.c.username).where(
            group_members.c.group_id == group_id
        )
        async with self._engine.connect() as conn:
            return {row.user_id: row.username for row in await conn.execute(query)}

    async def update(self, group: Group) -> None:
        values = _group_values(group)
        del values["id"], values["app_pk"]
        async with self._engine.begin() as conn:
            await conn.execute(
                update(groups)
                .where(groups.c.id == group.id, groups.c.app_pk == group.app_pk)
                .values(**values)
            )

    async def delete(self, app_pk: str, group_id: str) -> None:
        """The group, its members, its queue's rows and heads and every device's cursor in
        it (also those of former members), in one transaction."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(groups).where(groups.c.app_pk == app_pk, groups.c.id == group_id)
            )
            if not result.rowcount:
                return  # not this app's group: its rows are not ours to touch
            await conn.execute(delete(group_members).where(group_members.c.group_id == group_id))
            await conn.execute(delete(group_lists).where(group_lists.c.group_id == group_id))
            await conn.execute(
                delete(group_member_attrs).where(group_member_attrs.c.group_id == group_id)
            )
            await delete_mailboxes(conn, [group_key(group_id)])
            queue = conversation_queue(group_id)
            await conn.execute(delete(cursors).where(cursors.c.queue == queue))

    async def members(self, group_id: str) -> list[Member]:
        query = (
            select(group_members)
            .where(group_members.c.group_id == group_id)
            .order_by(_OWNER_FIRST, group_members.c.joined_ms, group_members.c.username)
        )
        async with self._engine.connect() as conn:
            return [_row_to_member(row) for row in await conn.execute(query)]

    async def add_members(self, members: Sequence[Member]) -> None:
        if not members:
            return
        async with self._engine.begin() as conn:
            await conn.execute(self._add_members, [_member_values(m) for m in members])

    async def remove_members(self, group_id: str, usernames: Sequence[str]) -> None:
        if not usernames:
            return
        async with self._engine.begin() as conn:
            for table in (group_members, group_member_attrs):  # a leaver's attributes go too
                await conn.execute(
                    delete(table).where(
                        table.c.group_id == group_id, table.c.username.in_(list(usernames))
                    )
                )

    async def set_attributes(self, group_id: str, username: str, values: dict[str, str]) -> None:
        """Set these keys of a member's attributes; an empty value removes its key."""
        t = group_member_attrs
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(t).where(
                    t.c.group_id == group_id,
                    t.c.username == username,
                    t.c.key.in_(list(values)),
                )
            )
            rows = [
                {"group_id": group_id, "username": username, "key": k, "value": v}
                for k, v in values.items()
                if v
            ]
            if rows:
                await conn.execute(insert(t), rows)

    async def attributes(
        self, group_id: str, usernames: Sequence[str], keys: Sequence[str] = ()
    ) -> dict[str, dict[str, str]]:
        t = group_member_attrs
        query = select(t.c.username, t.c.key, t.c.value).where(
            t.c.group_id == group_id, t.c.username.in_(list(usernames))
        )
        if keys:
            query = query.where(t.c.key.in_(list(keys)))
        out: dict[str, dict[str, str]] = {}
        async with self._engine.connect() as conn:
            for row in await conn.execute(query.order_by(t.c.username, t.c.key)):
                out.setdefault(row.username, {})[row.key] = row.value
        return out

    async def transfer(self, group: Group, old_owner: str) -> None:
        values = _group_values(group)
        del values["id"], values["app_pk"]
        m = group_members.c
        async with self._engine.begin() as conn:
            await conn.execute(
                update(groups)
                .where(groups.c.id == group.id, groups.c.app_pk == group.app_pk)
                .values(**values)
            )
            for username, role in ((old_owner, Role.MEMBER), (group.owner, Role.OWNER)):
                await conn.execute(
                    update(group_members)
                    .where(m.group_id == group.id, m.username == username)
                    .values(role=role.value)
                )

    async def set_role(self, group_id: str, username: str, role: Role) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(group_members)
                .where(group_members.c.group_id == group_id, group_members.c.username == username)
                .values(role=role.value)
            )

    async def list_entries(self, group_id: str, kind: ListKind) -> dict[str, int]:
        query = select(group_lists.c.username, group_lists.c.expires_ms).where(
            group_lists.c.group_id == group_id, group_lists.c.kind == kind.value
        )
        async with self._engine.connect() as conn:
            return {row.username: int(row.expires_ms) for row in await conn.execute(query)}

    async def add_entries(
        self, group_id: str, kind: ListKind, entries: dict[str, int], by: str = ""
    ) -> None:
        if not entries:
            return
        rows = [
            {
                "group_id": group_id,
                "kind": kind.value,
                "username": name,
                "expires_ms": ms,
                "by_user": by,
            }
            for name, ms in entries.items()
        ]
        async with self._engine.begin() as conn:
            await conn.execute(self._put_entries, rows)

    async def entry_by(self, group_id: str, kind: ListKind, username: str) -> str | None:
        query = select(group_lists.c.by_user).where(
            group_lists.c.group_id == group_id,
            group_lists.c.kind == kind.value,
            group_lists.c.username == username,
        )
        async with self._engine.connect() as conn:
            by = await conn.scalar(query)
        return None if by is None else str(by)

    async def remove_entries(self, group_id: str, kind: ListKind, usernames: Sequence[str]) -> None:
        if not usernames:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(group_lists).where(
                    group_lists.c.group_id == group_id,
                    group_lists.c.kind == kind.value,
                    group_lists.c.username.in_(list(usernames)),
                )
            )

    async def joined(self, user_id: str) -> list[Group]:
        query = (
            select(groups)
            .join(group_members, group_members.c.group_id == groups.c.id)
            .where(group_members.c.user_id == user_id)
            .order_by(groups.c.created_ms, groups.c.seq)
        )
        async with self._engine.connect() as conn:
            return [_row_to_group(row) for row in await conn.execute(query)]

    async def memberships(self, user_id: str) -> list[tuple[Group, int]]:
        """``joined`` with the time each membership began."""
        query = (
            select(groups, group_members.c.joined_ms.label("member_joined_ms"))
            .join(group_members, group_members.c.group_id == groups.c.id)
            .where(group_members.c.user_id == user_id)
            .order_by(groups.c.created_ms, groups.c.seq)
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
            return [(_row_to_group(row), int(row.member_joined_ms)) for row in rows]

    async def page(self, app_pk: str, limit: int, after: str | None) -> list[Group]:
        """Up to ``limit`` groups with an id numerically above ``after``; ``after`` must be
        a decimal string (past the BigInteger range nothing follows it)."""
        query = select(groups).where(groups.c.app_pk == app_pk)
        if after is not None:
            if not _decimal(after):
                raise ValueError(f"not a group id: {after!r}")
            if int(after) >= _MAX_SEQ:
                return []
            query = query.where(groups.c.seq > int(after))
        query = query.order_by(groups.c.seq).limit(limit)
        async with self._engine.connect() as conn:
            return [_row_to_group(row) for row in await conn.execute(query)]
