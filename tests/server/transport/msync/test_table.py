"""The gateway as a table (msync/handlers/table.py): which command and which meta namespace
reaches which handler, what happens to the ones the table does not name, and that the
server the msync tests run is configured by the same function as ``kibitz serve``."""

from __future__ import annotations

import ast
import gc
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

from kibitz.protocol._msync import encode_frame, jid, pb
from kibitz.server.domain.accounts import NewUser
from kibitz.server.transport.msync import dispatch
from kibitz.server.transport.msync.close import Close
from kibitz.server.transport.msync.connection import Connection, ConnState
from kibitz.server.transport.msync.dispatch import Dispatcher
from kibitz.server.transport.msync.handlers.context import Context
from kibitz.server.transport.msync.handlers.table import COMMANDS, METAS
from tests.conftest import AppHarness

from .conftest import Gateway
from .fakes import FakeSocket, outbox, provisioned

pytestmark = pytest.mark.anyio

MSYNC_SRC = Path(dispatch.__file__).parent


def test_the_table_routes_every_command_the_server_answers() -> None:
    assert set(COMMANDS) == {pb.MSync.PROVISION, pb.MSync.SYNC, pb.MSync.UNREAD, pb.MSync.LOGOUT}
    # Only PROVISION is accepted before the login, and only before it.
    assert {c for c, r in COMMANDS.items() if r.state is ConnState.CONNECTED} == {
        pb.MSync.PROVISION
    }
    logged_in = [r.state for c, r in COMMANDS.items() if c != pb.MSync.PROVISION]
    assert set(logged_in) == {ConnState.PROVISIONED}
    # Every other command the protocol defines is one the server never answers.
    assert set(pb.MSync.Command.values()) - set(COMMANDS) == {pb.MSync.NOTICE}
    assert set(METAS) == {pb.Meta.CHAT, pb.Meta.STATISTIC}


def _unknown_command_frame(number: int) -> bytes:
    """An MSync whose command is a number this server's schema does not have."""
    field = pb.MSync.COMMAND_FIELD_NUMBER << 3  # varint
    return bytes((field, number))


@pytest.mark.parametrize(
    "frame",
    [
        encode_frame(pb.MSync.NOTICE, pb.CommNotice()),
        _unknown_command_frame(9),
        encode_frame(pb.MSync.PROVISION, pb.Provision()),  # a second login
    ],
    ids=["notice", "unknown-number", "second-provision"],
)
async def test_a_command_without_a_route_closes_with_policy(gateway: Gateway, frame: bytes) -> None:
    c = await gateway.client(await gateway.user("alice"))
    assert await c.unread() == {}
    await c.send_raw(frame)
    assert await c.closed() == Close.POLICY


async def test_an_unknown_command_before_login_closes_with_policy(gateway: Gateway) -> None:
    c = await gateway.client()
    await c.send_raw(_unknown_command_frame(9))
    assert await c.closed() == Close.POLICY


async def test_a_frame_without_a_command_is_still_a_sync(gateway: Gateway) -> None:
    """proto2 reads an absent command as SYNC (its default); clients may rely on that."""
    c = await gateway.client(await gateway.user("alice"))
    ul = pb.CommSyncUL(queue=jid(gateway.app_key, "bob"))
    await c.send_raw(pb.MSync(payload=ul.SerializeToString()).SerializeToString())
    reply = await c.expect(lambda f: f.msync.command == pb.MSync.SYNC)
    assert reply.inner.status.error_code == pb.Status.OK and reply.inner.is_last


@pytest.mark.parametrize("ns", sorted(set(pb.Meta.NameSpace.values()) - set(METAS)))
async def test_a_meta_namespace_without_a_handler_is_refused(
    gateway: Gateway, ns: pb.Meta.NameSpace
) -> None:
    c = await gateway.client(await gateway.user("alice"))
    meta = pb.Meta(id=41, ns=ns, to_jid=jid(gateway.app_key, "bob"))
    ack = await c.send_meta(meta)
    assert (ack.status.error_code, ack.status.reason) == (pb.Status.FAIL, "not supported")
    assert await c.unread() == {}  # the connection stays up


async def test_a_statistic_meta_gets_no_reply(gateway: Gateway) -> None:
    c = await gateway.client(await gateway.user("alice"))
    await c.send_raw(encode_frame(pb.MSync.SYNC, pb.CommSyncUL(meta=pb.Meta(id=5))))
    assert await c.unread() == {}
    assert not [f for f in c.buffer if f.msync.command == pb.MSync.SYNC]


async def test_a_new_namespace_is_one_table_entry(
    harness_factory: Callable[..., Awaitable[AppHarness]],
) -> None:
    h = await harness_factory()
    s, app = h.services, h.app
    alice = (await s.accounts.register(app, [NewUser("alice")])).created[0]
    token = s.auth.issue_user_token(app, alice).access_token
    seen: list[tuple[int, str]] = []

    async def roster(ctx: Context, conn: Connection, meta: pb.Meta) -> None:
        assert ctx.services is s
        seen.append((meta.id, meta.to_jid.name))

    dispatcher = Dispatcher(s, metas={**METAS, pb.Meta.ROSTER: roster})
    conn = await provisioned(s, FakeSocket(), app.app_key, "alice", token, "r1")
    conn._outbox.clear()
    meta = pb.Meta(id=7, ns=pb.Meta.ROSTER, to_jid=jid(app.app_key, "bob"))
    await dispatcher(conn, encode_frame(pb.MSync.SYNC, pb.CommSyncUL(meta=meta)))
    assert seen == [(7, "bob")]
    assert outbox(conn) == [] and not conn.closing


async def test_a_handler_that_raises_closes_with_internal(
    harness_factory: Callable[..., Awaitable[AppHarness]],
) -> None:
    h = await harness_factory()
    s, app = h.services, h.app
    alice = (await s.accounts.register(app, [NewUser("alice")])).created[0]
    token = s.auth.issue_user_token(app, alice).access_token

    async def broken(ctx: Context, conn: Connection, frame: pb.MSync) -> None:
        raise RuntimeError("a bug")

    route = COMMANDS[pb.MSync.UNREAD]
    commands = {**COMMANDS, pb.MSync.UNREAD: type(route)(broken, route.state)}
    socket = FakeSocket()
    conn = await provisioned(s, socket, app.app_key, "alice", token, "r1")
    await Dispatcher(s, commands=commands)(conn, encode_frame(pb.MSync.UNREAD))
    assert conn.closing and conn._close_code == Close.INTERNAL


def test_close_codes_live_in_one_enum() -> None:
    """No WebSocket close code is written as a number outside close.py."""
    offenders = []
    for path in sorted(MSYNC_SRC.rglob("*.py")):
        if path.name == "close.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and type(node.value) is int:
                if 1000 <= node.value <= 1015:
                    offenders.append(f"{path.name}:{node.lineno} {node.value}")
    assert offenders == []


def test_the_gateway_never_calls_a_store() -> None:
    """Domain services only: ``services.messages`` (the store) and the engine stay unused."""
    offenders = []
    for path in sorted(MSYNC_SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("messages", "engine"):
                offenders.append(f"{path.name}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "kibitz.server.storage"
            ):
                offenders.append(f"{path.name}:{node.lineno} imports {node.module}")
    assert offenders == []


# -- one uvicorn config for kibitz serve and the tests -------------------------------------


def _serve_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> uvicorn.Config:
    """The config ``kibitz serve`` builds, captured instead of run."""
    from kibitz.cli.main import main

    captured: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, *a, **k: captured.append(self.config))
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    monkeypatch.setattr(gc, "set_threshold", lambda *a: None)
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert len(captured) == 1
    return captured[0]


_SHARED = (
    "loop",
    "http",
    "ws_max_size",
    "ws_per_message_deflate",
    "ws_ping_interval",
    "timeout_graceful_shutdown",
)


def _options(config: uvicorn.Config) -> dict[str, Any]:
    """The options; ``http`` by the protocol it is built on (each app binds its own clock)."""
    options = {name: getattr(config, name) for name in _SHARED}
    if isinstance(options["http"], type):
        options["http"] = options["http"].__mro__[1]
    return options


async def test_tests_serve_with_the_config_kibitz_serve_uses(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = _serve_config(tmp_path, monkeypatch)
    # kibitz serve: /websocket on the raw socket of the app's own gateway
    app: Any = served.app
    assert served.ws is app.state.gateway.ws_protocol
    assert served.lifespan == "on"
    # the msync tests: the same function, so the same options and the same socket layer
    assert gateway.config.ws is gateway.harness.asgi.state.gateway.ws_protocol
    assert _options(gateway.config) == _options(served)
    assert gateway.config.ws_max_size == gateway.services.settings.max_frame_bytes
