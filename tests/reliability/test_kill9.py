"""kill -9 durability: senders stream messages over msync, the server is SIGKILLed in the
middle of the traffic and restarted on the same data dir, then the recipients pull
everything. Every message the server acknowledged is delivered exactly once; one it never
acknowledged may arrive or not, but never twice; nothing arrives that nobody sent.

Each round has recipients of its own, who stay offline until after the restart: what they
pull is exactly what the killed server had made durable. A round's recipients pull again
after the next kill and must get nothing (what they acknowledged stays acknowledged).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from kibitz.protocol._msync import decode_payload, encode_frame, jid, pb
from tests.conftest import LiveServer
from tests.server.transport.msync.client import MsyncClient, body_text, text_body

from .figures import record
from .health import round_trip, traceback_report, tracebacks
from .tenant import TIMEOUT, Tenant

pytestmark = pytest.mark.anyio

ROUNDS = 4
SENDERS = 4
RECIPIENTS = 2  # per round
WINDOW = 32  # unacknowledged sends per sender: the kill always finds some in flight
KILL_AFTER = (150, 600)  # acknowledged messages in a round before the SIGKILL
ROUND_S = 30.0  # the most a round's traffic may take to reach its kill point


@dataclass
class Sent:
    sender: str
    recipient: str
    text: str
    server_id: int | None = None  # set by the acknowledgement
    refused: str = ""


@dataclass
class Ledger:
    """One round's sends, by the client's meta id; ``enough`` fires at the kill point."""

    kill_after: int
    sends: dict[int, Sent] = field(default_factory=dict)
    acked: int = 0
    enough: asyncio.Event = field(default_factory=asyncio.Event)

    def acknowledged(self, meta_id: int, server_id: int) -> None:
        self.sends[meta_id].server_id = server_id
        self.acked += 1
        if self.acked >= self.kill_after:
            self.enough.set()


_meta_ids = itertools.count(1_800_000_000_000)


async def pump(client: MsyncClient, rnd: int, recipients: list[str], ledger: Ledger) -> None:
    """Send to ``recipients`` in turn, ``WINDOW`` in flight, until the connection dies."""
    sender, slots = client.username, asyncio.Semaphore(WINDOW)

    async def read() -> None:
        while True:
            msync = pb.MSync.FromString(await client.ws.recv())
            if msync.command != pb.MSync.SYNC:
                continue
            dl = decode_payload(pb.CommSyncDL, msync.payload)
            if not dl.HasField("meta_id") or dl.meta_id not in ledger.sends:
                continue
            if dl.status.error_code == pb.Status.OK:
                ledger.acknowledged(dl.meta_id, dl.server_id)
            else:
                ledger.sends[dl.meta_id].refused = str(dl.status)
            slots.release()

    async def write() -> None:
        for n in itertools.count():
            await slots.acquire()
            to, meta_id = recipients[n % len(recipients)], next(_meta_ids)
            text = f"round {rnd} from {sender} #{n}"
            body = text_body(to, text)
            body.from_jid.name = sender
            meta = pb.Meta(id=meta_id, to_jid=jid(client.app_key, to), ns=pb.Meta.CHAT)
            meta.payload = body.SerializeToString()
            ledger.sends[meta_id] = Sent(sender, to, text)  # before: it may land, unacked
            await client.ws.send(encode_frame(pb.MSync.SYNC, pb.CommSyncUL(meta=meta)))

    tasks = [asyncio.create_task(read()), asyncio.create_task(write())]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if not isinstance(outcome, ConnectionClosed | OSError | asyncio.CancelledError):
            raise AssertionError(f"a sender failed: {outcome!r}")


def kill_9(server: LiveServer) -> None:
    assert server.proc is not None
    server.proc.kill()  # SIGKILL: no shutdown, no flush, no goodbye
    server.proc.wait(timeout=10)
    server.proc = None


async def pull_all(tenant: Tenant, recipients: list[str], senders: list[str]) -> list[Sent]:
    """Everything each recipient's device pulls from each sender's queue."""
    got: list[Sent] = []
    for name in recipients:
        client = await MsyncClient.open(tenant.server.ws, tenant.app_key, open_timeout=TIMEOUT)
        try:
            await client.login(name, tenant.tokens[name], "phone")
            for sender in senders:
                for meta in await client.pull(sender):
                    assert meta.from_jid.name == sender, meta
                    got.append(Sent(sender, name, body_text(meta), meta.id))
        finally:
            await client.close()
    return got


def judge(ledger: Ledger, got: list[Sent]) -> tuple[dict[str, int], list[str]]:
    """The round's figures, and what broke the promise."""
    problems: list[str] = []
    by_text = {s.text: s for s in ledger.sends.values()}
    copies = Counter(s.text for s in got)
    problems += [f"delivered {n} times: {t!r}" for t, n in copies.items() if n > 1]
    ids = Counter(s.server_id for s in got)
    problems += [f"server id {i} delivered {n} times" for i, n in ids.items() if n > 1]
    delivered = {s.text: s for s in got}
    unacked_delivered = 0
    for text, s in delivered.items():
        sent = by_text.get(text)
        if sent is None or (sent.sender, sent.recipient) != (s.sender, s.recipient):
            problems.append(f"delivered but never sent: {s}")
        elif sent.server_id is None:
            unacked_delivered += 1
        elif sent.server_id != s.server_id:
            problems.append(f"acknowledged as {sent.server_id}, delivered as {s.server_id}")
    lost = [s for s in ledger.sends.values() if s.server_id and s.text not in delivered]
    problems += [f"acknowledged, never delivered: {s}" for s in lost[:10]]
    refused = [s for s in ledger.sends.values() if s.refused]
    problems += [f"refused: {s}" for s in refused[:5]]
    figures = {
        "sent": len(ledger.sends),
        "acknowledged": ledger.acked,
        "delivered": len(got),
        "delivered_unacknowledged": unacked_delivered,
        "lost": len(lost),
    }
    return figures, problems


async def test_every_acknowledged_message_survives_kill_9(module_server: LiveServer) -> None:
    server = module_server
    tenant = Tenant.create(server, "acme", "chat")
    senders = [f"s{i}" for i in range(SENDERS)]
    tenant.users(*senders)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    totals: Counter[str] = Counter()
    earlier: list[str] = []  # recipients of the rounds before
    problems: list[str] = []
    started = time.monotonic()
    for rnd in range(ROUNDS):
        recipients = [f"r{rnd}-{j}" for j in range(RECIPIENTS)]
        tenant.users(*recipients)
        ledger = Ledger(kill_after=rng.randint(*KILL_AFTER))
        clients = []
        for name in senders:
            client = await MsyncClient.open(server.ws, tenant.app_key, open_timeout=TIMEOUT)
            await client.login(name, tenant.tokens[name], "laptop")
            clients.append(client)
        pumps = [asyncio.create_task(pump(c, rnd, recipients, ledger)) for c in clients]
        async with asyncio.timeout(ROUND_S):
            await ledger.enough.wait()
        kill_9(server)
        acked_at_kill, sent_at_kill = ledger.acked, len(ledger.sends)
        async with asyncio.timeout(TIMEOUT):
            await asyncio.gather(*pumps)
        await asyncio.to_thread(server.start)
        figures, found = judge(ledger, await pull_all(tenant, recipients, senders))
        again = await pull_all(tenant, earlier, senders)
        found += [f"pulled again after a later kill: {s}" for s in again[:5]]
        problems += [f"round {rnd}: {p}" for p in found]
        totals.update(figures)
        record(
            f"kill -9 round {rnd}",
            killed_with_acked=acked_at_kill,  # seen by the senders when the signal went
            killed_with_unacked=sent_at_kill - acked_at_kill,
            **figures,
        )
        earlier += recipients
    record(
        "kill -9",
        rounds=ROUNDS,
        seed=seed,
        seconds=round(time.monotonic() - started, 1),
        **dict(totals),
    )
    assert not problems, "\n".join(problems[:30])
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        health = await http.get(f"{server.rest}/health")
    assert health.status_code == 200, health.text
    await round_trip(tenant, "after-kill9")
    found = tracebacks(server)
    assert not found, traceback_report(found)
