"""Clients that pipeline a lot, or stop reading: a reader is served in full however much it
sends in one write; a consumer that stops reading is dropped, its TCP connection closed
within seconds (not left ESTABLISHED with megabytes unsent), and the memory it held comes
back — a dropped connection must not sit in a reference cycle the server's raised GC
thresholds (and ``gc.freeze()``) never collect."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import psutil
import pytest

from kibitz.protocol._msync import encode_frame, jid, pb
from tests.conftest import LiveServer

from .figures import record
from .msync_frames import provision
from .tenant import Tenant
from .wsframes import BINARY, RawSocket, frame

MESSAGES = 100  # alice's queue "bob": every pull is answered with a batch of them
DROPPED = 8  # slow consumers in the measured round
CLOSE_WITHIN_S = 10.0  # the server aborts at once; 2 s drain grace at most
RSS_BOUND_MB = 40.0  # before the fix: ~25 MiB kept per dropped consumer (8 → +186 MiB)


@pytest.fixture(scope="module")
def tenant(module_server: LiveServer) -> Tenant:
    t = Tenant.create(module_server, "slow", "chat")
    t.users("alice", "bob", "carol")
    body = {
        "from": "bob",
        "to": ["alice"],
        "type": "txt",
        "body": {"msg": "a line of chat that is not too short " * 4},
    }
    with httpx.Client(timeout=10) as http:
        for _ in range(MESSAGES):
            reply = http.post(f"{t.base}/messages/users", json=body, headers=t.admin())
            assert reply.status_code == 200, reply.text
    return t


def _open(t: Tenant, rcvbuf: int | None = None) -> RawSocket:
    ws = RawSocket("127.0.0.1", t.server.port)
    ws.connect(rcvbuf=rcvbuf)
    return ws


def _send(ws: RawSocket, *payloads: bytes) -> None:
    """All the frames in one write."""
    ws.write(b"".join(frame(BINARY, p) for p in payloads), len(payloads))


def _read(ws: RawSocket) -> pb.MSync:
    event = ws.next()
    assert event.kind == "frame" and event.opcode == BINARY, event
    msync = pb.MSync()
    msync.ParseFromString(event.payload)
    return msync


def _pull(t: Tenant, queue: str) -> bytes:
    return encode_frame(pb.MSync.SYNC, pb.CommSyncUL(queue=jid(t.app_key, queue)))


def _login(ws: RawSocket, t: Tenant, user: str, resource: str) -> None:
    _send(ws, provision(t.app_key, user, t.tokens[user], resource))
    reply = _read(ws)
    assert reply.command == pb.MSync.PROVISION
    prov = pb.Provision()
    prov.ParseFromString(reply.payload)
    assert prov.status.error_code == pb.Status.OK, prov.status


def _wait_until(check: Callable[[], bool], within_s: float) -> float:
    """Seconds until ``check()`` held; fails after ``within_s``. (The server's socket table
    and RSS are only observable by looking; the loop is bounded.)"""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within_s:
            pytest.fail(f"not within {within_s} s")
        time.sleep(0.02)
    return time.monotonic() - start


def _established(server: LiveServer, client_port: int) -> bool:
    assert server.proc is not None
    for c in psutil.Process(server.proc.pid).net_connections(kind="tcp"):
        if c.raddr and c.raddr.port == client_port and c.status == psutil.CONN_ESTABLISHED:
            return True
    return False


def _rss_mb(server: LiveServer) -> float:
    assert server.proc is not None
    return float(psutil.Process(server.proc.pid).memory_info().rss) / 2**20


def test_a_thousand_frames_in_one_write_are_all_answered(tenant: Tenant) -> None:
    """Empty SYNCs need no I/O, so the receive loop never yielded and 1,030 of them filled
    the 1,024-frame outbox before a byte was written (closed 1013, nothing answered)."""
    ws = _open(tenant)
    try:
        _login(ws, tenant, "carol", "many")
        frames = 3000
        _send(ws, *[pb.MSync(command=pb.MSync.SYNC).SerializeToString()] * frames)
        for _ in range(frames):
            assert _read(ws).command == pb.MSync.SYNC
        # still connected and served: a heartbeat is answered
        _send(ws, pb.MSync(command=pb.MSync.UNREAD).SerializeToString())
        assert _read(ws).command == pb.MSync.UNREAD
    finally:
        ws.close()
    record("pipelined frames", frames_in_one_write=frames, answered=frames, closed=0)


def _drop_one(t: Tenant, n: int) -> float:
    """A device that logs in, asks for the same batch again and again and never reads:
    the seconds until the server no longer holds its TCP connection."""
    ws = _open(t, rcvbuf=4096)
    assert ws.sock is not None
    port = int(ws.sock.getsockname()[1])
    try:
        _login(ws, t, "alice", f"slow{n}")
        pull = _pull(t, "bob")
        for _ in range(12):  # ~1,500 pulls, each answered with 100 messages; none read
            _send(ws, *[pull] * 128)
            if ws.write_failed or not _established(t.server, port):
                break
        return _wait_until(lambda: not _established(t.server, port), CLOSE_WITHIN_S)
    except TimeoutError:  # our own writes blocked: the server stopped reading us first
        return _wait_until(lambda: not _established(t.server, port), CLOSE_WITHIN_S)
    finally:
        ws.close()


def test_dropped_slow_consumers_are_closed_and_their_memory_comes_back(tenant: Tenant) -> None:
    server = tenant.server
    for n in range(2):  # warm-up: caches and the allocator's arenas reach their size
        _drop_one(tenant, n)
    before = _rss_mb(server)
    closed_in = [_drop_one(tenant, 10 + n) for n in range(DROPPED)]
    after = _rss_mb(server)
    record(
        "slow consumers",
        dropped=DROPPED,
        closed_within_s=f"{max(closed_in):.2f}",
        rss_before_mb=f"{before:.0f}",
        rss_after_mb=f"{after:.0f}",
    )
    assert max(closed_in) < CLOSE_WITHIN_S
    assert after - before < RSS_BOUND_MB, (before, after)
    assert server.log_path is not None
    log = server.log_path.read_text()
    assert "msync session closed: send queue full (close 1013, alice/slow" in log
    assert "Traceback" not in log
    # alice's messages wait for her in storage, and a well-behaved device gets them all
    ws = _open(tenant)
    try:
        _login(ws, tenant, "alice", "phone")
        _send(ws, _pull(tenant, "bob"))
        reply = _read(ws)
        dl = pb.CommSyncDL()
        dl.ParseFromString(reply.payload)
        assert len(dl.metas) == MESSAGES
    finally:
        ws.close()
