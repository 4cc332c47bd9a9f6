"""An in-memory ``FrameSocket``, so a ``Connection`` and the dispatcher run without a network."""

from __future__ import annotations

import asyncio

from kibitz.protocol._msync import USER_DOMAIN, decode_payload, jid, pb
from kibitz.server.services import Services
from kibitz.server.transport.msync.connection import Connection
from kibitz.server.transport.msync.dispatch import Dispatcher


class FakeSocket:
    def __init__(self, *, blocked: bool = False) -> None:
        self.inbound: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.sent: list[bytes] = []
        self.closed_with: tuple[int, str] | None = None
        self.closed = asyncio.Event()
        self.unblocked = asyncio.Event()
        if not blocked:
            self.unblocked.set()

    async def receive(self) -> bytes | None:
        return await self.inbound.get()

    async def send(self, data: bytes) -> None:
        await self.unblocked.wait()  # a peer that stopped reading blocks here
        self.sent.append(data)

    async def close(self, code: int, reason: str = "") -> None:
        self.closed_with = (code, reason)
        self.closed.set()

    def frames(self) -> list[pb.MSync]:
        out = []
        for data in self.sent:
            frame = pb.MSync()
            frame.ParseFromString(data)
            out.append(frame)
        return out


def provision_frame(app_key: str, username: str, token: str, resource: str) -> bytes:
    prov = pb.Provision(resource=resource, os_type=pb.Provision.OS_OTHER)
    return pb.MSync(
        command=pb.MSync.PROVISION,
        guid=jid(app_key, username, USER_DOMAIN, resource),
        auth="$t$" + token,
        payload=prov.SerializeToString(),
    ).SerializeToString()


def connection(services: Services, socket: FakeSocket) -> Connection:
    return Connection(
        socket,
        Dispatcher(services),
        registry=services.sessions,
        settings=services.settings,
        clock=services.clock,
        ids=services.ids,
    )


async def provisioned(
    services: Services, socket: FakeSocket, app_key: str, username: str, token: str, resource: str
) -> Connection:
    """A connection logged in by driving its dispatcher directly (no tasks running)."""
    conn = connection(services, socket)
    await Dispatcher(services)(conn, provision_frame(app_key, username, token, resource))
    reply = decode_payload(pb.Provision, _last_outbox(conn).payload)
    assert reply.status.error_code == pb.Status.OK, reply.status
    return conn


def _last_outbox(conn: Connection) -> pb.MSync:
    frame = pb.MSync()
    data = conn._outbox[-1]
    assert data is not None
    frame.ParseFromString(data)
    return frame


def outbox(conn: Connection) -> list[pb.MSync]:
    """Frames the connection queued (its send task is not running in these tests)."""
    out = []
    for data in conn._outbox:
        if data is None:
            continue
        frame = pb.MSync()
        frame.ParseFromString(data)
        out.append(frame)
    return out
