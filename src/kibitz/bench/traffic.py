"""What one generator process sends and sees: the recorder and the open-loop senders.

Every delivery is named by a key (receiver, stream, seq). A key is *acked* when the server
acknowledged the send (msync send ack, or the REST reply naming the recipient) and
*received* when the receiver pulled it. Loss is acked minus received, after a drain. A
group send is one frame to a pseudo-peer (``group_peer``) whose ack stands for one
delivery to each of the group's other members.
Sends follow a fixed schedule (open loop: never waiting for the server), at a 1 ms
granularity; the marker carries the time the frame was written, and how late that was
against the schedule is kept as ``lag``, so a generator that falls behind is visible.
"""

from __future__ import annotations

import asyncio
import json
import time
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from .client import Session
from .http import RestPool
from .placement import rest_node
from .wire import MARKER, SendTemplate, marker_text

__all__ = [
    "GROUP",
    "PING",
    "PONG",
    "Recorder",
    "RestFanout",
    "delivery_key",
    "group_peer",
    "run_schedule",
]

PING: Final = ord("P")  # echo: A → B, answered at once
PONG: Final = ord("Q")  # echo: B → A, carries A's send time back: round trip
ONE_WAY: Final = ord("S")  # saturate 1:1
FANOUT: Final = ord("F")  # REST multi-target send
GROUP: Final = ord("G")  # msync GROUPCHAT send: one frame, every other member receives
_GROUP_PEERS: Final = 1 << 40  # pseudo-peers of groups lie above every user index
_MAX_BATCH: Final = 2000  # sends per scheduler wake-up, so receiving is never starved


def delivery_key(receiver: int, stream: int, seq: int) -> int:
    return (receiver << 64) | (stream << 32) | seq


def group_peer(n: int) -> int:
    """The peer a send to the worker's n-th group is addressed to in its keys."""
    return _GROUP_PEERS + n


@dataclass
class Recorder:
    """Per-phase counters of one worker. ``arm()`` starts a phase."""

    local_base: int
    phase: int = -1
    next_id: int = 0
    sent: int = 0
    skipped: int = 0  # not written: the socket already held too much (generator backlog)
    received_n: int = 0
    dup: int = 0
    stale: int = 0
    self_echo: int = 0
    failed: int = 0
    lost_sessions: int = 0
    first_rx_ns: int = 0
    last_rx_ns: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    received_keys: set[int] = field(default_factory=set)
    acked_keys: list[int] = field(default_factory=list)
    pending: dict[int, tuple[int, int]] = field(default_factory=dict)
    latency: array[int] = field(default_factory=lambda: array("q"))
    ack_latency: array[int] = field(default_factory=lambda: array("q"))
    lag: array[int] = field(default_factory=lambda: array("q"))
    local: set[int] = field(default_factory=set)  # users whose sessions live in this worker
    groups: dict[int, tuple[int, ...]] = field(default_factory=dict)  # peer → receivers
    waiting: set[int] | None = None
    settled: asyncio.Event = field(default_factory=asyncio.Event)

    def arm(self, phase: int) -> None:
        self.phase = phase % 100
        self.sent = self.skipped = self.received_n = self.dup = self.stale = 0
        self.self_echo = self.failed = self.lost_sessions = 0
        self.first_rx_ns = self.last_rx_ns = 0
        self.errors.clear()
        self.received_keys = set()
        self.acked_keys = []
        self.pending.clear()
        self.latency, self.ack_latency, self.lag = array("q"), array("q"), array("q")
        self.waiting = None

    # -- sending -------------------------------------------------------------------------

    def width(self, peer: int) -> int:
        """Deliveries one send to ``peer`` stands for: a group's other members, or one."""
        receivers = self.groups.get(peer) if peer >= _GROUP_PEERS else None
        return 1 if receivers is None else len(receivers)

    def send(
        self, session: Session, tmpl: SendTemplate, peer: int, kind: int, stamp: int, seq: int
    ) -> None:
        local_id = self.local_base + self.next_id
        self.next_id += 1
        frame = tmpl.frame(local_id, marker_text(kind, self.phase, stamp, session.idx, seq))
        if session.write(frame):
            self.pending[local_id] = (delivery_key(peer, session.idx, seq), stamp)
            self.sent += self.width(peer)
        else:
            self.skipped += self.width(peer)

    # -- Sink ----------------------------------------------------------------------------

    def received(self, session: Session, bodies: list[bytes]) -> None:
        now = time.monotonic_ns()
        me = session.idx
        phase = self.phase
        for body in bodies:
            if int(body[1:3]) != phase:
                self.stale += 1
                continue
            stream = int(body[22:29])
            if stream == me:
                self.self_echo += 1
                continue
            seq = int(body[29:38])
            key = (me << 64) | (stream << 32) | seq
            if key in self.received_keys:
                self.dup += 1
                continue
            self.received_keys.add(key)
            self.received_n += 1
            if not self.first_rx_ns:
                self.first_rx_ns = now
            self.last_rx_ns = now
            kind = body[0]
            if kind == PING:
                if session.reply is not None:
                    self.send(session, session.reply, stream, PONG, int(body[3:22]), seq)
            else:
                self.latency.append(now - int(body[3:22]))
            waiting = self.waiting
            if waiting is not None:
                waiting.discard(key)
                if not waiting and not self.pending:
                    self.settled.set()

    def acked(self, session: Session, local_id: int, ok: bool, reason: str) -> None:
        entry = self.pending.pop(local_id, None)
        if entry is None:
            self.errors["ack for an unknown id"] += 1
            return
        key, stamp = entry
        if key >> 64 >= _GROUP_PEERS:
            self._ack_group(key, stamp, ok, reason)
        else:
            self.ack_delivery(key, stamp, ok, reason)

    def _ack_group(self, key: int, stamp: int, ok: bool, reason: str) -> None:
        """One group send acked: one delivery acked to each receiver (one ack latency)."""
        receivers = self.groups.get(key >> 64, ())
        if not ok:
            self.failed += len(receivers)
            self.errors[f"send refused: {reason}"] += 1
            self._check_settled()
            return
        self.ack_latency.append(time.monotonic_ns() - stamp)
        low = key & ((1 << 64) - 1)
        keys = [(r << 64) | low for r in receivers]
        self.acked_keys.extend(keys)
        waiting, local, got = self.waiting, self.local, self.received_keys
        if waiting is not None:
            waiting.update(k for k in keys if k not in got and (k >> 64) in local)
        self._check_settled()

    def ack_delivery(self, key: int, stamp: int, ok: bool, reason: str) -> None:
        if ok:
            self.acked_keys.append(key)
            self.ack_latency.append(time.monotonic_ns() - stamp)
            waiting = self.waiting
            if waiting is not None and key not in self.received_keys and (key >> 64) in self.local:
                waiting.add(key)
        else:
            self.failed += 1
            self.errors[f"send refused: {reason}"] += 1
        self._check_settled()

    def protocol_error(self, session: Session, what: str) -> None:
        self.errors[what] += 1

    def lost(self, session: Session) -> None:
        self.lost_sessions += 1

    # -- settling ------------------------------------------------------------------------

    def _check_settled(self) -> None:
        if not self.pending and (self.waiting is None or not self.waiting):
            self.settled.set()

    async def settle(self, limit_s: float, expected: Sequence[int] | None) -> bool:
        """Wait until every send is acked and, given ``expected``, every delivery arrived.

        Deliveries acked by this worker to its own sessions are always expected.
        """
        if expected is not None:
            mine = {k for k in self.acked_keys if (k >> 64) in self.local}
            self.waiting = (set(expected) | mine) - self.received_keys
        self.settled.clear()
        self._check_settled()
        try:
            async with asyncio.timeout(limit_s):
                await self.settled.wait()
        except TimeoutError:
            return False
        return True


async def run_schedule(
    rec: Recorder,
    flows: Sequence[tuple[Session, SendTemplate, int]],
    kind: int,
    rate: float,
    duration: float,
) -> None:
    """Send ``rate × duration`` messages round-robin over ``flows`` on a fixed schedule."""
    if not flows or rate <= 0:
        return
    total = int(rate * duration)
    interval = 1e9 / rate
    start = time.monotonic_ns()
    n = 0
    width = len(flows)
    while n < total:
        now = time.monotonic_ns()
        due_n = min(total, int((now - start) / interval) + 1, n + _MAX_BATCH)
        while n < due_n:
            session, tmpl, peer = flows[n % width]
            if session.open:
                stamp = time.monotonic_ns()
                rec.lag.append(stamp - start - int(n * interval))
                rec.send(session, tmpl, peer, kind, stamp, n)
            else:
                rec.skipped += rec.width(peer)
            n += 1
        wait = (start + n * interval - time.monotonic_ns()) / 1e9
        # uvloop truncates sub-millisecond timers to 0: never spin, send in ≥ 1 ms batches
        await asyncio.sleep(max(wait, 0.001))


class RestFanout:
    """One sender over REST ``POST /{org}/{app}/messages/users`` to M recipients at once;
    with several nodes the sends alternate over their REST bases (one pool per node)."""

    def __init__(
        self,
        pools: Sequence[RestPool],
        token: str,
        sender: tuple[int, str],
        receivers: Sequence[tuple[int, str]],
        max_in_flight: int = 256,
    ) -> None:
        self.pools = list(pools)
        self.sender_idx, sender_name = sender
        self.index = {name: idx for idx, name in receivers}
        text = (MARKER + marker_text(FANOUT, 0, 0, 0, 0)).decode()
        text += "x" * (100 - len(text))
        body = json.dumps(
            {
                "from": sender_name,
                "to": [n for _, n in receivers],
                "type": "txt",
                "body": {"msg": text},
                "ext": {},
            },
            separators=(",", ":"),
        ).encode()
        at = body.index(MARKER) + len(MARKER)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._heads = [pool.request(headers, len(body)) + body[:at] for pool in self.pools]
        self._tail = body[at + 38 :]
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, rec: Recorder, rate: float, duration: float) -> None:
        if rate <= 0:
            return
        total = int(rate * duration)
        interval = 1e9 / rate
        start = time.monotonic_ns()
        for n in range(total):
            due = start + int(n * interval)
            wait = (due - time.monotonic_ns()) / 1e9
            if wait > 0:
                await asyncio.sleep(max(wait, 0.001))
            if self._slots.locked():
                rec.skipped += len(self.index)
                continue
            rec.lag.append(time.monotonic_ns() - due)
            task = asyncio.create_task(self._post(rec, n))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    async def _post(self, rec: Recorder, seq: int) -> None:
        node = rest_node(seq, len(self.pools))
        async with self._slots:
            stamp = time.monotonic_ns()
            marker = marker_text(FANOUT, rec.phase, stamp, self.sender_idx, seq)
            request = b"".join((self._heads[node], marker, self._tail))
            rec.sent += len(self.index)
            try:
                status, reply = await self.pools[node].send(request)
            except Exception as exc:  # every failure is a counted finding
                rec.failed += len(self.index)
                rec.errors[f"REST send: {type(exc).__name__}"] += 1
                return
            if status != 200:
                rec.failed += len(self.index)
                rec.errors[f"REST send: HTTP {status} {reply[:80]!r}"] += 1
                return
            data = json.loads(reply).get("data") or {}
            for name in data:
                idx = self.index.get(name)
                if idx is not None:
                    rec.ack_delivery(delivery_key(idx, self.sender_idx, seq), stamp, True, "")
            missing = len(self.index) - len(data)
            if missing > 0:
                rec.failed += missing
                rec.errors["REST send: recipients missing from data"] += 1
