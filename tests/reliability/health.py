"""Is the server still well after the abuse? ``/health`` answers, a normal user logs in and
messages round-trip (msync and REST), and the server log holds no traceback."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from kibitz.protocol._msync import pb
from tests.conftest import LiveServer
from tests.server.transport.msync.client import MsyncClient, body_text

from .tenant import TIMEOUT, Tenant

__all__ = [
    "check_healthy",
    "log_offset",
    "round_trip",
    "traceback_report",
    "tracebacks",
    "watching",
]

_CONTEXT_BEFORE = 3  # the log line that announced the traceback, and the request before
_CONTEXT_AFTER = 300
_marks = itertools.count(1)


def _log(server: LiveServer) -> Path:
    assert server.log_path is not None, "the server never started"
    return server.log_path


def log_offset(server: LiveServer) -> int:
    """Where the log ends once the server has logged all it was doing: pass it to
    ``tracebacks`` to see only what comes after.

    A server answers first and logs the failure after (uvicorn logs an exception once the
    500 is sent), so the end of the file is not yet the end of a request's story: a marked
    request is sent, and its access-log line waited for; what came before is in the log.
    """
    if server.proc is None or server.proc.poll() is not None:
        return _log(server).stat().st_size
    marker = f"settle={next(_marks)}"
    httpx.get(f"{server.rest}/health?{marker}", timeout=TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    needle = marker.encode()
    while time.monotonic() < deadline:
        data = _log(server).read_bytes()
        at = data.rfind(needle)
        if at >= 0:
            end = data.find(b"\n", at)
            return len(data) if end < 0 else end + 1
        time.sleep(0.01)  # no event to wait on: the log is a file another process writes
    raise AssertionError(f"the server did not log {marker} within {TIMEOUT} s")


def tracebacks(server: LiveServer, since: int = 0) -> list[str]:
    """Each traceback the server logged after byte ``since``, with a few lines of context."""
    log_offset(server)  # let what is under way reach the log
    with _log(server).open("rb") as f:
        f.seek(since)
        lines = f.read().decode(errors="replace").splitlines()
    found: list[str] = []
    i = 0
    while i < len(lines):
        if "Traceback" not in lines[i]:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and end - i < _CONTEXT_AFTER:
            line = lines[end]
            if line and not line[0].isspace() and "Traceback" not in line:
                # an exception line ends one traceback; a chained one goes on
                nxt = lines[end + 1] if end + 1 < len(lines) else ""
                if not (nxt == "" or nxt.startswith(("The above", "During handling"))):
                    end += 1
                    break
            end += 1
        found.append("\n".join(lines[max(0, i - _CONTEXT_BEFORE) : end]))
        i = end
    return found


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b")


def _readable(text: str) -> str:
    """Unescaped (a structured log line holds its traceback as ``exception='…\\n…'``), and
    without the frames of installed packages (uvicorn, starlette, fastapi): kibitz's own
    frames and the exception say what went wrong."""
    kept: list[str] = []
    skipping = False
    for line in text.replace("\\n", "\n").replace("\\'", "'").splitlines():
        if line.lstrip().startswith('File "'):
            skipping = "site-packages" in line
            if skipping:
                continue
        elif skipping and line.startswith("    "):
            continue  # the source line (and the ^^^ marker) of a skipped frame
        else:
            skipping = False
        kept.append(line)
    return "\n".join(kept)


def _exception_of(text: str) -> str:
    lines = [line for line in text.splitlines() if _EXCEPTION_LINE.match(line)]
    return lines[-1] if lines else text.rsplit("\n", 1)[-1]


def traceback_report(found: list[str], keep: int = 3) -> str:
    """``found`` told once per distinct exception (its last line), the first ``keep`` whole."""
    distinct: dict[str, str] = {}
    for text in map(_readable, found):
        distinct.setdefault(_exception_of(text), text)
    head = f"{len(found)} traceback(s) in the server log, {len(distinct)} distinct:"
    shown = list(distinct.items())
    return "\n\n".join([head, *(t for _, t in shown[:keep]), *(e for e, _ in shown[keep:])])


@contextmanager
def watching(server: LiveServer) -> Iterator[None]:
    """A failing check inside is reported with the tracebacks the server logged meanwhile;
    a passing one must have logged none."""
    since = log_offset(server)
    try:
        yield
    except (AssertionError, pytest.fail.Exception) as exc:
        found = tracebacks(server, since)
        if found:
            pytest.fail(f"{exc}\n\n{traceback_report(found)}")
        raise
    found = tracebacks(server, since)
    if found:
        pytest.fail(traceback_report(found))


async def round_trip(tenant: Tenant, tag: str) -> None:
    """Two fresh users log in (password grant, PROVISION); one sends the other a message over
    msync, the app sends one over REST; the recipient pulls both."""
    a, b = f"{tag}-a", f"{tag}-b"
    tokens = tenant.users(a, b)
    server = tenant.server
    ca = await MsyncClient.open(server.ws, tenant.app_key, open_timeout=TIMEOUT)
    cb = await MsyncClient.open(server.ws, tenant.app_key, open_timeout=TIMEOUT)
    try:
        await ca.login(a, tokens[a], "health")
        await cb.login(b, tokens[b], "health")
        ack = await ca.send_text(b, f"{tag}: over msync")
        assert ack.status.error_code == pb.Status.OK, ack.status
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            sent = await http.post(
                f"{tenant.base}/messages/users",
                json={"from": "admin", "to": [b], "type": "txt", "body": {"msg": f"{tag}: rest"}},
                headers=tenant.admin(),
            )
        assert sent.status_code == 200, sent.text
        assert [body_text(m) for m in await cb.pull(a)] == [f"{tag}: over msync"]
        assert [body_text(m) for m in await cb.pull("admin")] == [f"{tag}: rest"]
    finally:
        await ca.close()
        await cb.close()


def check_healthy(tenant: Tenant, tag: str, since: int = 0) -> None:
    """``/health`` is 200, ``round_trip`` works, and no traceback was logged after ``since``."""
    health = httpx.get(f"{tenant.server.rest}/health", timeout=TIMEOUT)
    assert health.status_code == 200, health.text
    asyncio.run(round_trip(tenant, tag))
    found = tracebacks(tenant.server, since)
    if found:
        pytest.fail(traceback_report(found))
