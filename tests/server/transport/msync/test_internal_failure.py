"""An unexpected internal failure — here the database refusing every new message, as a full
disk would — reaches the sender at once as "internal error" (SERVER_UNKNOWN_ERROR in our
SDK, the Web SDK's 503), never a hang; the session stays up, and once the database takes
writes again so do sends."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from kibitz.protocol import ErrorCode
from kibitz.protocol._msync import pb
from kibitz.sdk._codes import send_error

from .conftest import Gateway

pytestmark = pytest.mark.anyio

_SQLITE_FAIL = (
    "CREATE TRIGGER kibitz_test_full BEFORE INSERT ON messages "
    "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
)
_PG_FAIL = (
    "CREATE FUNCTION kibitz_test_full() RETURNS trigger AS $$ BEGIN "
    "RAISE EXCEPTION 'could not extend file: No space left on device'; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER kibitz_test_full BEFORE INSERT ON messages "
    "FOR EACH ROW EXECUTE FUNCTION kibitz_test_full()",
)


async def test_a_failing_database_is_an_internal_error_not_a_hang(gateway: Gateway) -> None:
    engine = gateway.services.engine
    sqlite = engine.dialect.name == "sqlite"
    a = await gateway.client(await gateway.user("alice"), "a1")
    await gateway.user("bob")
    assert (await a.send_text("bob", "before")).status.error_code == pb.Status.OK
    async with engine.begin() as conn:
        for statement in (_SQLITE_FAIL,) if sqlite else _PG_FAIL:
            await conn.execute(text(statement))
    try:
        failed = await a.send_text("bob", "while the disk is full")
        assert (failed.status.error_code, failed.status.reason) == (
            pb.Status.FAIL,
            "internal error",
        )
        assert send_error(failed.status).code is ErrorCode.SERVER_UNKNOWN_ERROR
        h = gateway.harness
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
            by_rest = await http.post(  # over the socket: the server's own 500, as a client sees it
                f"{h.base}/messages/users",
                json={"from": "alice", "to": ["bob"], "type": "txt", "body": {"msg": "x"}},
                headers=h.admin_headers(),
                timeout=10,
            )
        assert by_rest.status_code == 500, by_rest.text
        assert by_rest.json()["error"] == "internal_server_error"
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text("DROP TRIGGER kibitz_test_full" + ("" if sqlite else " ON messages"))
            )
            if not sqlite:
                await conn.execute(text("DROP FUNCTION kibitz_test_full()"))
    assert (await a.send_text("bob", "after")).status.error_code == pb.Status.OK
