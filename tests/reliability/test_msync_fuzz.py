"""Hostile msync clients against a real ``kibitz serve``, over real sockets to /websocket:
malformed frames before and after login. The gateway answers with well-formed frames or
closes with the code close.py documents for the cause — never 1011 — logs no traceback,
and afterwards a normal user logs in and messages round-trip.

Each hypothesis example is one socket running a script of ``Item``s (msync_frames.py says
what the gateway must do with each); the script stops at the first item that must close
the connection, or ends with a probe (UNREAD, or a real login) that must be answered.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kibitz.protocol._msync import decode_frame, decode_payload, encode_frame, jid, pb
from tests.conftest import LiveServer

from .figures import record
from .health import check_healthy, log_offset, traceback_report, tracebacks, watching
from .httpraw import RawResponse, exchange
from .msync_frames import Item, Login, items, nested_json, provision, raw_field, reply_problem
from .tenant import Tenant
from .wsframes import BINARY, CLOSE, PING, PONG, RawSocket, frame

SCRIPTS_BEFORE_LOGIN = 600
SCRIPTS_AFTER_LOGIN = 1200
BUDGET_S = 40.0  # per fuzz test, for a slow machine (the counts say how far it got)
BURST = 1_030  # frames in one write: more than the 1,024-frame outbox
INTERNAL = 1011


@dataclass
class Gate:
    server: LiveServer
    tenant: Tenant
    login: Login
    stats: Counter[str] = field(default_factory=Counter)
    violations: dict[str, list[str]] = field(default_factory=dict)
    resources: Iterator[int] = field(default_factory=itertools.count)

    def socket(self) -> RawSocket:
        ws = RawSocket("127.0.0.1", self.server.port)
        ws.connect()
        self.stats["sockets"] += 1
        return ws

    def violation(self, kind: str, example: str) -> None:
        self.violations.setdefault(kind, []).append(example)

    def resource(self) -> str:
        return f"fz{next(self.resources) % 8}"


@pytest.fixture(scope="module")
def gate(module_server: LiveServer) -> Iterator[Gate]:
    tenant = Tenant.create(module_server, "acme", "chat", max_devices="100")
    tokens = tenant.users("alice", "bob", "keys")
    other = Tenant.create(module_server, "other", "app")
    other.users("mallory")
    foreign = (tokens["bob"], other.tokens["mallory"], tenant.app_token)
    g = Gate(module_server, tenant, Login(tenant.app_key, "alice", tokens["alice"], foreign))
    yield g
    closes = {k: v for k, v in sorted(g.stats.items()) if k.startswith("close")}
    counts = {k: g.stats[k] for k in ("sockets", "frames sent", "frames received", "scripts")}
    record("msync fuzz", **counts, **closes)


@pytest.fixture(autouse=True)
def _fresh_violations(gate: Gate) -> None:
    gate.violations.clear()


# -- one socket's story ------------------------------------------------------------------


@dataclass
class Ending:
    kind: str  # "answered", "close", "eof", "reset", "timeout"
    code: int | None = None
    seen: list[str] = field(default_factory=list)  # what was wrong on the way
    reply: pb.MSync | None = None  # the answer waited for

    def login_status(self) -> pb.Status:
        assert self.reply is not None and self.reply.command == pb.MSync.PROVISION, self
        return decode_payload(pb.Provision, self.reply.payload).status


Want = int | Callable[[pb.MSync], bool] | None  # a command, or a test of the reply


def read_until(g: Gate, ws: RawSocket, want: Want, pings: list[bytes]) -> Ending:
    """Read the server's frames, checking each, until the reply ``want`` or the end."""
    ending = Ending("timeout")
    while True:
        event = ws.next()
        if event.problem:
            ending.seen.append(event.problem)
        if event.kind != "frame":
            ending.kind, ending.code = event.kind, event.code
            if event.kind == "close":
                g.stats[f"close {event.code}"] += 1
            return ending
        g.stats["frames received"] += 1
        if event.opcode == PONG:
            if event.payload in pings:
                pings.remove(event.payload)
            else:
                ending.seen.append(f"a pong nobody asked for: {event.payload[:20]!r}")
            continue
        if event.opcode != BINARY:
            ending.seen.append(f"a server frame with opcode {event.opcode:#x}")
            continue
        problem = reply_problem(event.payload)
        if problem:
            ending.seen.append(problem)
            continue
        msync = decode_frame(event.payload)
        if want is not None and (want(msync) if callable(want) else msync.command == want):
            ending.kind, ending.reply = "answered", msync
            return ending


def log_in(g: Gate, ws: RawSocket, resource: str) -> Ending:
    login = g.login
    ws.send(BINARY, provision(login.app_key, login.name, login.token, resource))
    ending = read_until(g, ws, pb.MSync.PROVISION, [])
    if ending.kind == "answered" and ending.login_status().error_code != pb.Status.OK:
        ending.seen.append(f"the real login was refused: {ending.login_status()}")
    return ending


def describe(script: list[Item]) -> str:
    return " | ".join(f"{i.label} {i.data[:40]!r}{'…' if len(i.data) > 40 else ''}" for i in script)


def run_script(g: Gate, logged_in: bool, script: list[Item], coalesce: bool) -> None:
    g.stats["scripts"] += 1
    phase = "after login" if logged_in else "before login"
    ws = g.socket()
    resource = g.resource()
    try:
        if logged_in:
            ending = log_in(g, ws, resource)
            if ending.kind != "answered" or ending.seen:
                g.violation(f"{phase}: the login failed", f"{ending}")
                return
        sent: list[Item] = []
        for item in script:
            sent.append(item)
            if item.closes is not None:
                break
        culprit = sent[-1] if sent[-1].closes is not None else None
        if coalesce:
            ws.write(b"".join(i.data for i in sent), sum(i.frames for i in sent))
        else:
            for item in sent:
                ws.write(item.data, item.frames)
        g.stats["frames sent"] += sum(i.frames for i in sent)
        pings = [p for i in sent for p in i.pings]
        want: Want = None
        if culprit is None:  # everything must be answered: so must the probe
            want, probe = (
                pb.MSync.PROVISION,
                provision(g.login.app_key, g.login.name, g.login.token, resource),
            )
            if logged_in:  # a pull of a queue of its own, told apart from any other reply
                want, probe = _probe_pull(g)
            ws.send(BINARY, probe)
            g.stats["frames sent"] += 1
        ending = read_until(g, ws, want, pings)
        _judge(g, phase, script=sent, culprit=culprit, ending=ending, pings=pings, ws=ws)
    finally:
        ws.close()


def _probe_pull(g: Gate) -> tuple[Callable[[pb.MSync], bool], bytes]:
    name = f"probe{next(g.resources)}"

    def is_reply(msync: pb.MSync) -> bool:
        if msync.command != pb.MSync.SYNC:
            return False
        dl = decode_payload(pb.CommSyncDL, msync.payload)
        return dl.queue.name == name and not dl.HasField("meta_id")

    pull = pb.CommSyncUL(queue=jid(g.login.app_key, name))
    return is_reply, encode_frame(pb.MSync.SYNC, pull)


def _judge(
    g: Gate,
    phase: str,
    *,
    script: list[Item],
    culprit: Item | None,
    ending: Ending,
    pings: list[bytes],
    ws: RawSocket,
) -> None:
    example = f"    {describe(script)}\n      → {ending.kind} {ending.code or ''} {ending.seen}"
    if ending.code == INTERNAL:
        g.violation(f"{phase}: closed 1011 INTERNAL", example)
    for seen in ending.seen:
        g.violation(f"{phase}: {seen}", example)
    if culprit is not None:
        if ending.kind == "close" and ending.code == culprit.closes:
            return
        if culprit.may_reset and ending.kind in ("reset", "eof"):
            g.stats["reset while sending past the limit"] += 1
            return
        g.violation(f"{phase}: {culprit.label}: expected close {culprit.closes}", example)
        return
    if ending.kind != "answered":
        g.violation(f"{phase}: the probe was not answered ({ending.kind})", example)
        return
    if ending.reply is not None and ending.reply.command == pb.MSync.PROVISION:
        if ending.login_status().error_code != pb.Status.OK:
            g.violation(f"{phase}: the real login was refused", example)
    if pings:
        g.violation(f"{phase}: a ping was not answered", example)
    ws.send(CLOSE, (1000).to_bytes(2, "big"))  # and the closing handshake works
    g.stats["frames sent"] += 1
    end = read_until(g, ws, None, [])
    if end.kind != "close" or end.code != 1000:
        g.violation(f"{phase}: a client close was answered with {end.kind} {end.code}", example)


def report(violations: dict[str, list[str]]) -> str:
    lines = [f"{len(violations)} kind(s) of violation:"]
    for kind, examples in sorted(violations.items()):
        lines.append(f"  {kind}  ×{len(examples)}")
        lines.extend(examples[:2])
    return "\n".join(lines)


def assert_clean(g: Gate, since: int) -> None:
    assert g.server.proc is not None and g.server.proc.poll() is None, "the server died"
    found = tracebacks(g.server, since)
    failures = [report(g.violations)] if g.violations else []
    failures += [traceback_report(found)] if found else []
    if failures:
        pytest.fail("\n\n".join(failures))


def fuzz(g: Gate, logged_in: bool, examples: int, max_items: int) -> None:
    since = log_offset(g.server)
    deadline = time.monotonic() + BUDGET_S
    before = Counter(g.stats)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        script=st.lists(items(g.login, logged_in), min_size=1, max_size=max_items),
        coalesce=st.booleans(),
    )
    def one(script: list[Item], coalesce: bool) -> None:
        if time.monotonic() < deadline:
            run_script(g, logged_in, script, coalesce)

    started = time.monotonic()
    one()
    done = Counter(g.stats)
    done.subtract(before)
    record(
        f"msync fuzz ({'after' if logged_in else 'before'} login)",
        sockets=done["sockets"],
        frames_sent=done["frames sent"],
        frames_received=done["frames received"],
        seconds=round(time.monotonic() - started, 1),
        closes={k[6:]: v for k, v in sorted(done.items()) if k.startswith("close ") and v},
    )
    assert_clean(g, since)


def test_fuzz_before_login(gate: Gate) -> None:
    """Frames a client sends before (or instead of) a login: refused logins, commands out
    of place, broken WebSocket framing, control frames."""
    fuzz(gate, logged_in=False, examples=SCRIPTS_BEFORE_LOGIN, max_items=4)


def test_fuzz_after_login(gate: Gate) -> None:
    """A logged-in device that sends anything: pulls with any queue and key, sends with any
    meta and body, truncated and oversized protobuf, unknown commands and versions."""
    fuzz(gate, logged_in=True, examples=SCRIPTS_AFTER_LOGIN, max_items=8)


# -- the regressions the lane exists to keep out ------------------------------------------


@contextmanager
def regression(g: Gate) -> Iterator[None]:
    """A failed check is reported with the server's tracebacks of the same moment; a
    passing one must have logged none."""
    with watching(g.server):
        yield
        if g.violations:
            pytest.fail(report(g.violations))


def refused_and_closed(g: Gate, data: bytes) -> None:
    """A PROVISION that must be refused: a non-OK reply, then close 1000."""
    with regression(g):
        ws = g.socket()
        try:
            ws.send(BINARY, data)
            ending = read_until(g, ws, pb.MSync.PROVISION, [])
            assert ending.kind == "answered" and not ending.seen, ending
            assert ending.login_status().error_code != pb.Status.OK, ending.login_status()
            end = read_until(g, ws, None, [])
            assert (end.kind, end.code) == ("close", 1000), end
        finally:
            ws.close()


@pytest.mark.parametrize("depth", [65, 20_000])  # 20,000 levels: < the 256 KiB frame limit
@pytest.mark.parametrize("kind", ["arrays", "objects", "token"])
def test_provision_with_a_nested_json_auth_token_is_refused(
    gate: Gate, kind: str, depth: int
) -> None:
    """(a) ``Provision.auth_token`` is JSON the server parses: nested past any stack, it is
    a malformed token, a refused login — not close 1011."""
    login = gate.login
    data = provision(
        login.app_key, login.name, "", "r1", where="none", auth_token=nested_json(depth, kind)
    )
    refused_and_closed(gate, data)


@pytest.mark.parametrize("field_", ["auth", "guid.name", "guid.app_key", "resource"])
def test_provision_with_strings_that_are_not_utf8_is_refused(gate: Gate, field_: str) -> None:
    """proto2 hands a string field that is not UTF-8 over as ``bytes`` (found by this fuzz):
    in the PROVISION itself (the resource) the login is refused like any bad login; in the
    envelope (token, user, app) the frame is not msync at all, and is closed 1007 (invalid
    frame payload data) like any undecodable frame."""
    login = gate.login
    bad = b"$t$\xed\xa0\x80\xff"
    if field_ == "resource":
        prov = pb.Provision(os_type=pb.Provision.OS_OTHER).SerializeToString()
        prov += raw_field(13, bad)
        guid = jid(login.app_key, login.name)
        msync = pb.MSync(command=pb.MSync.PROVISION, guid=guid, auth="$t$" + login.token)
        msync.payload = prov
        data = msync.SerializeToString()
    else:
        data = provision(login.app_key, login.name, login.token, "r1")
        data += {
            "auth": raw_field(3, bad),
            "guid.name": raw_field(2, raw_field(2, bad)),
            "guid.app_key": raw_field(2, raw_field(1, bad)),
        }[field_]
        with regression(gate):
            ws = gate.socket()
            try:
                ws.send(BINARY, data)
                end = read_until(gate, ws, None, [])
                assert (end.kind, end.code) == ("close", 1007), end
            finally:
                ws.close()
        return
    refused_and_closed(gate, data)


def _logged_in(g: Gate, name: str, resource: str) -> RawSocket:
    ws = g.socket()
    t = g.tenant
    ws.send(BINARY, provision(t.app_key, name, t.tokens[name], resource))
    ending = read_until(g, ws, pb.MSync.PROVISION, [])
    assert ending.kind == "answered" and not ending.seen, ending
    assert ending.login_status().error_code == pb.Status.OK, ending.login_status()
    return ws


def _answered(g: Gate, ws: RawSocket, data: bytes, command: int) -> None:
    ws.send(BINARY, data)
    ending = read_until(g, ws, command, [])
    assert ending.kind == "answered" and not ending.seen, ending


@pytest.mark.parametrize("key", [2**63, 2**63 + 1, 2**64 - 1])
def test_a_pull_acknowledging_an_impossible_key_is_refused(gate: Gate, key: int) -> None:
    """(c) Message ids are signed 64-bit: a key past 2^63-1 names no message. It gets an
    error reply, the connection stays, and the next pull of that queue works."""
    queue = jid(gate.tenant.app_key, "bob")
    with regression(gate):
        ws = _logged_in(gate, "keys", "k1")
        try:
            pull = pb.CommSyncUL(queue=queue, key=key)
            _answered(gate, ws, encode_frame(pb.MSync.SYNC, pull), pb.MSync.SYNC)
            _answered(gate, ws, encode_frame(pb.MSync.UNREAD), pb.MSync.UNREAD)
            again = encode_frame(pb.MSync.SYNC, pb.CommSyncUL(queue=queue))
            _answered(gate, ws, again, pb.MSync.SYNC)
        finally:
            ws.close()


def test_a_pull_of_a_queue_named_in_bytes_that_are_not_utf8(gate: Gate) -> None:
    """A queue name that is not UTF-8 reaches the handler as ``bytes``: answered (an empty
    batch or an error), never a failed handler (found by this fuzz)."""
    with regression(gate):
        ws = _logged_in(gate, "keys", "k2")
        try:
            pull = pb.CommSyncUL(queue=jid(gate.tenant.app_key, "bob")).SerializeToString()
            pull += raw_field(3, raw_field(2, b"b\xc0\xafb"))
            _answered(gate, ws, encode_frame(pb.MSync.SYNC, pull), pb.MSync.SYNC)
            _answered(gate, ws, encode_frame(pb.MSync.UNREAD), pb.MSync.UNREAD)
        finally:
            ws.close()


BURSTS = {
    "empty SYNC": encode_frame(pb.MSync.SYNC),
    "UNREAD": encode_frame(pb.MSync.UNREAD),
    "malformed CommSyncUL": encode_frame(pb.MSync.SYNC, b"\xff\xff"),
    "pull of a queue no user has": encode_frame(
        pb.MSync.SYNC, pb.CommSyncUL(queue=jid("acme#chat", "Bad Name"))
    ),
    "pull of bob": encode_frame(pb.MSync.SYNC, pb.CommSyncUL(queue=jid("acme#chat", "bob"))),
}


@pytest.mark.parametrize("kind", [*BURSTS, "ping"])
def test_a_burst_in_one_write_is_answered_in_full(gate: Gate, kind: str) -> None:
    """(d) 1,030 frames in one write, read as they come: every one is answered and the
    connection stays — a client that reads is not a slow consumer."""
    answered = 0
    with regression(gate):
        ws = _logged_in(gate, "keys", "k3")
        try:
            if kind == "ping":
                pings = [f"p{i}".encode() for i in range(BURST)]
                ws.write(b"".join(frame(PING, p) for p in pings), BURST)
            else:
                ws.write(frame(BINARY, BURSTS[kind]) * BURST, BURST)
            gate.stats["frames sent"] += BURST
            while answered < BURST:
                event = ws.next()
                assert event.kind == "frame" and not event.problem, (answered, event)
                if event.opcode == PONG or (
                    event.opcode == BINARY
                    and decode_frame(event.payload).command != pb.MSync.NOTICE
                ):
                    answered += 1
            gate.stats["frames received"] += answered
            _answered(gate, ws, encode_frame(pb.MSync.UNREAD), pb.MSync.UNREAD)
        finally:
            ws.close()
            record(f"msync burst ({kind})", frames_in_one_write=BURST, answered=answered)


HANDSHAKES = {
    "no key": b"GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
    "version 8": b"GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 8\r\n\r\n",
    "bad key": b"GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: !!\r\nSec-WebSocket-Version: 13\r\n\r\n",
    "POST upgrade": b"POST /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
    "upgrade elsewhere": b"GET /health HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n",
    "h2c upgrade": b"GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n"
    b"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    "garbage": b"GET /websocket HTTP/1.1\r\n\x00\xff\r\n\r\n",
}


@pytest.mark.parametrize("name", list(HANDSHAKES))
def test_a_broken_handshake_is_refused(gate: Gate, name: str) -> None:
    """An opening handshake that is not one: an HTTP 4xx (or a closed socket), no 5xx,
    nothing logged as a failure."""
    with regression(gate):
        gate.stats["sockets"] += 1
        response = exchange("127.0.0.1", gate.server.port, HANDSHAKES[name], timeout=5)
        if isinstance(response, RawResponse):
            assert 400 <= response.status < 500, response.describe()


def test_healthy_after_the_fuzz(gate: Gate) -> None:
    """Last: nothing closed 1011, a normal user logs in and messages round-trip, and the
    server never logged a traceback."""
    check_healthy(gate.tenant, "after-msync-fuzz")
    assert gate.stats["close 1011"] == 0, "some socket was closed 1011 INTERNAL"
