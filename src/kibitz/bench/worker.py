"""One generator process: holds sessions, runs the commands the coordinator sends it.

The coordinator (``pool.Pool``) talks to each worker over a pipe, one command at a time;
the worker answers with plain picklable data. Live counters for the progress bar go
through shared memory, refreshed ten times a second, never per message.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import traceback
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

from .client import LoginError, Session, login_frame
from .http import RestPool
from .traffic import GROUP, ONE_WAY, PING, Recorder, RestFanout, group_peer, run_schedule
from .wire import SendTemplate

__all__ = ["COUNTERS", "GroupSpec", "OpenSpec", "WorkerConfig", "worker_main"]

COUNTERS = 4  # per worker: sessions, sent, received, errors
_HEARTBEAT_S = 20.0
_REST_CONNECTIONS = 32


@dataclass(frozen=True)
class WorkerConfig:
    index: int
    ws_urls: tuple[str, ...]  # one per node
    app_key: str
    cpu: int | None
    run_tag: int  # keeps local message ids of two runs apart


@dataclass(frozen=True)
class OpenSpec:
    users: Sequence[tuple[int, str, str]]  # (index, username, token)
    ramp: float  # logins/s for this worker; 0 = as fast as ``concurrency`` allows
    concurrency: int
    timeout: float
    nodes: Sequence[int] = ()  # node of each user (index into ws_urls); () = all on node 0


@dataclass(frozen=True)
class GroupSpec:
    """A group this worker sends to: its sender's session lives here; ``receivers`` are
    the other members (in any worker), each of whom a send reaches once."""

    group_id: str
    sender: tuple[int, str]  # (index, username)
    receivers: Sequence[int]


def _target(ws_url: str) -> tuple[str, int, str]:
    url = urlsplit(ws_url)
    port = url.port or (443 if url.scheme == "wss" else 80)
    return url.hostname or "127.0.0.1", port, url.path or "/"


def worker_main(conn: Connection, config: WorkerConfig, counters: Any) -> None:
    """Process entry point (spawned)."""
    # Ctrl-C is the coordinator's to handle: it stops the workers and the server in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if config.cpu is not None:
        os.sched_setaffinity(0, {config.cpu})
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        pass
    asyncio.run(Worker(conn, config, counters).serve())


class Worker:
    def __init__(self, conn: Connection, config: WorkerConfig, counters: Any) -> None:
        self.conn = conn
        self.config = config
        self.counters = counters
        self.slot = config.index * COUNTERS
        self.targets = [_target(url) for url in config.ws_urls]
        # local ids in [2**62, 2**63): 9-byte varints, unique per worker and run
        base = (1 << 62) | (config.run_tag & 0xFFFF) << 44 | config.index << 36
        self.rec = Recorder(local_base=base)
        self.sessions: dict[int, Session] = {}
        self.flows: list[tuple[Session, SendTemplate, int]] = []
        self.group_flows: list[tuple[Session, SendTemplate, int]] = []
        self.fanout: RestFanout | None = None
        self.http: list[RestPool] = []

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        ticker = asyncio.create_task(self._tick())
        try:
            while True:
                cmd, arg = await loop.run_in_executor(None, self.conn.recv)
                if cmd == "stop":
                    break
                cpu0, wall0 = time.process_time(), time.monotonic()
                try:
                    result: dict[str, Any] = await getattr(self, f"cmd_{cmd}")(arg)
                except Exception:  # reported to the coordinator verbatim
                    self.conn.send(("error", traceback.format_exc()))
                    continue
                result["cpu_s"] = time.process_time() - cpu0
                result["wall_s"] = time.monotonic() - wall0
                self.conn.send(("ok", result))
        finally:
            ticker.cancel()
            for s in self.sessions.values():
                s.close()
            for pool in self.http:
                await pool.aclose()

    async def _tick(self) -> None:
        """Progress counters and the SDK-style heartbeat for idle sessions."""
        last_beat = time.monotonic()
        while True:
            await asyncio.sleep(0.1)
            rec, c, i = self.rec, self.counters, self.slot
            c[i] = len(self.sessions)
            c[i + 1] = rec.sent
            c[i + 2] = rec.received_n
            c[i + 3] = rec.failed + sum(rec.errors.values())
            now = time.monotonic()
            if now - last_beat > _HEARTBEAT_S / 2:
                last_beat = now
                for s in self.sessions.values():
                    if now - s.last_rx > _HEARTBEAT_S:
                        s.heartbeat()

    # -- commands ------------------------------------------------------------------------

    async def cmd_open(self, spec: OpenSpec) -> dict[str, Any]:
        slots = asyncio.Semaphore(spec.concurrency)
        latencies = array("q")
        failures: Counter[str] = Counter()
        by_node = [0] * len(self.targets)
        start = time.monotonic()

        async def one(idx: int, name: str, token: str, node: int) -> None:
            async with slots:
                resource = f"bench_{idx}"
                session = Session(
                    idx, name, login_frame(self.config.app_key, name, token, resource), self.rec
                )
                host, port, path = self.targets[node]
                t0 = time.monotonic_ns()
                try:
                    await session.connect(host, port, path, spec.timeout)
                except LoginError as exc:
                    failures[str(exc)] += 1
                    return
                latencies.append(time.monotonic_ns() - t0)
                by_node[node] += 1
                self.sessions[idx] = session
                self.rec.local.add(idx)

        tasks = []
        for n, (idx, name, token) in enumerate(spec.users):
            if spec.ramp > 0:
                wait = start + n / spec.ramp - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            node = spec.nodes[n] if spec.nodes else 0
            tasks.append(asyncio.create_task(one(idx, name, token, node)))
        await asyncio.gather(*tasks)
        return {
            "connected": len(latencies),
            "connect_ns": latencies,
            "by_node": by_node,
            "failures": dict(failures),
            "elapsed_s": time.monotonic() - start,
        }

    async def cmd_close(self, _: None) -> dict[str, Any]:
        n = len(self.sessions)
        for s in self.sessions.values():
            s.close()
        self.sessions.clear()
        self.rec.local.clear()
        self.rec.groups.clear()
        self.flows = []
        self.group_flows = []
        await asyncio.sleep(0)  # let the transports flush their close frames
        return {"closed": n}

    async def cmd_arm(self, phase: int) -> dict[str, Any]:
        self.rec.arm(phase)
        return {}

    async def cmd_flows(
        self, arg: tuple[Sequence[tuple[int, str, int, str]], bool]
    ) -> dict[str, Any]:
        """(a, a_name, b, b_name) pairs: a sends to b; with ``echo`` b answers a."""
        pairs, echo = arg
        app_key = self.config.app_key
        self.flows = []
        for a, a_name, b, b_name in pairs:
            sa, sb = self.sessions.get(a), self.sessions.get(b)
            if sa is None or sb is None:
                continue  # one side failed to log in; reported by open
            self.flows.append((sa, SendTemplate(app_key, a_name, b_name), b))
            sb.reply = SendTemplate(app_key, b_name, a_name) if echo else None
        return {"flows": len(self.flows)}

    async def cmd_send(self, arg: tuple[bool, float, float]) -> dict[str, Any]:
        echo, rate, duration = arg
        start = time.monotonic_ns()
        await run_schedule(self.rec, self.flows, PING if echo else ONE_WAY, rate, duration)
        return {"start_ns": start, "sent": self.rec.sent}

    async def cmd_group_setup(self, specs: Sequence[GroupSpec]) -> dict[str, Any]:
        """The groups whose senders live in this worker (logged in already)."""
        self.group_flows = []
        self.rec.groups.clear()
        for n, spec in enumerate(specs):
            idx, name = spec.sender
            session = self.sessions.get(idx)
            if session is None:
                continue  # the sender failed to log in; reported by open
            peer = group_peer(n)
            self.rec.groups[peer] = tuple(spec.receivers)
            tmpl = SendTemplate(self.config.app_key, name, spec.group_id, group=True)
            self.group_flows.append((session, tmpl, peer))
        return {"flows": len(self.group_flows)}

    async def cmd_group(self, arg: tuple[float, float]) -> dict[str, Any]:
        """GROUPCHAT sends at ``rate``/s (over all of this worker's groups) for ``duration``."""
        rate, duration = arg
        start = time.monotonic_ns()
        await run_schedule(self.rec, self.group_flows, GROUP, rate, duration)
        return {"start_ns": start, "sent": self.rec.sent}

    async def cmd_fanout_setup(
        self, arg: tuple[Sequence[str], str, tuple[int, str], list[tuple[int, str]]] | None
    ) -> dict[str, Any]:
        """(REST send URL per node, app token, sender, receivers), or None: not a sender."""
        for pool in self.http:
            await pool.aclose()
        self.http = []
        self.fanout = None
        if arg is not None:
            urls, token, sender, receivers = arg
            self.http = [RestPool(url, size=_REST_CONNECTIONS) for url in urls]
            self.fanout = RestFanout(self.http, token, sender, receivers)
        return {}

    async def cmd_fanout(self, arg: tuple[float, float]) -> dict[str, Any]:
        rate, duration = arg
        start = time.monotonic_ns()
        if self.fanout is not None:
            await self.fanout.run(self.rec, rate, duration)
        return {"start_ns": start, "sent": self.rec.sent}

    async def cmd_settle(self, arg: tuple[float, Sequence[int] | None]) -> dict[str, Any]:
        limit_s, expected = arg
        done = await self.rec.settle(limit_s, expected)
        rec = self.rec
        return {
            "settled": done,
            "sent": rec.sent,
            "skipped": rec.skipped,
            "failed": rec.failed,
            "unacked": len(rec.pending),
            "acked": rec.acked_keys,
            "received": list(rec.received_keys),
            "dup": rec.dup,
            "stale": rec.stale,
            "self_echo": rec.self_echo,
            "lost_sessions": rec.lost_sessions,
            "errors": dict(rec.errors),
            "latency_ns": rec.latency,
            "ack_ns": rec.ack_latency,
            "lag_ns": rec.lag,
            "first_rx_ns": rec.first_rx_ns,
            "last_rx_ns": rec.last_rx_ns,
        }
