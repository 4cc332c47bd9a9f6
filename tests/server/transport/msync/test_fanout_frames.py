"""The fan-out fast paths keep the wire as it was: a pull reply built by hand is the bytes
protobuf would write, a group message's NOTICE is encoded once for all its members, and
frames a connection writes straight to the socket leave in the order they were sent."""

from __future__ import annotations

import asyncio

import pytest

from kibitz.protocol import ErrorCode, IdGenerator
from kibitz.protocol._msync import encode_frame, pb, varint
from kibitz.server.domain.events import Notice
from kibitz.server.settings import Settings
from kibitz.server.transport.msync import frames, registry
from kibitz.server.transport.msync.connection import Connection, ConnState
from kibitz.server.transport.msync.registry import SessionRegistry

pytestmark = pytest.mark.anyio

GROUP_QUEUE = "12345@conference.easemob.com"


def _reference(app_key: str, queue: str, metas: list[tuple[int, bytes]], now_ms: int) -> bytes:
    head = pb.CommSyncDL(
        status=pb.Status(error_code=pb.Status.OK),
        queue=frames.queue_jid(app_key, queue),
        timestamp=now_ms,
    )
    if not metas:
        head.is_last = True
        return encode_frame(pb.MSync.SYNC, head)
    head.next_key = metas[-1][0]
    head.is_last = False
    body = [head.SerializeToString()]
    for _, meta in metas:
        body += (b"\x22", varint(len(meta)), meta)
    return encode_frame(pb.MSync.SYNC, b"".join(body))


def _meta(msg_id: int, size: int) -> tuple[int, bytes]:
    return msg_id, pb.Meta(id=msg_id, payload=b"m" * size).SerializeToString()


@pytest.mark.parametrize("queue", ["bob", GROUP_QUEUE, "notify#events", "u" * 64])
@pytest.mark.parametrize(
    "metas",
    [[], [_meta(1, 0)], [_meta(2**63 - 1, 300)], [_meta(7, 1), _meta(9, 127), _meta(2**40, 5)]],
)
@pytest.mark.parametrize("now_ms", [0, 1, 1_764_547_200_000])
def test_a_pull_reply_is_the_bytes_protobuf_writes(
    queue: str, metas: list[tuple[int, bytes]], now_ms: int
) -> None:
    built = frames.sync_batch_frame("org#app", queue, metas, now_ms)
    assert built == _reference("org#app", queue, metas, now_ms)
    dl = pb.CommSyncDL()
    dl.ParseFromString(pb.MSync.FromString(built).payload)
    assert [m.SerializeToString() for m in dl.metas] == [m for _, m in metas]
    assert dl.is_last is (not metas)


class _Session:
    def __init__(self, resource: str) -> None:
        self.resource = resource
        self.session_id = resource
        self.noticed: list[tuple[str, bytes]] = []

    async def kick(self, code: ErrorCode, reason: str = "") -> None:
        pass

    async def close_for_shutdown(self) -> None:
        pass

    def notify(self, queue: str, frame: bytes) -> None:
        self.noticed.append((queue, frame))


def test_a_group_message_notice_is_encoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str, str]] = []

    def counting(app_key: str, queue: str, resource: str = "") -> bytes:
        calls.append((app_key, queue, resource))
        return frames.notice_frame(app_key, queue, resource)

    monkeypatch.setattr(registry, "notice_frame", counting)
    reg = SessionRegistry()
    sessions = {}
    for i in range(50):
        for resource in ("web", "phone"):
            sessions[(f"u{i}", resource)] = s = _Session(resource)
            reg.add("app", f"u{i}", s)
    notices = [
        Notice("app", "org#app", f"u{i}", GROUP_QUEUE, skip_resource="web" if i == 0 else None)
        for i in range(50)
    ] + [Notice("app", "org#app", "u1", "u0")]
    reg.deliver(notices)
    assert calls == [("org#app", GROUP_QUEUE, ""), ("org#app", "u0", "")]
    expected = frames.notice_frame("org#app", GROUP_QUEUE)
    assert sessions[("u0", "web")].noticed == []  # the sending device
    assert sessions[("u0", "phone")].noticed == [(GROUP_QUEUE, expected)]
    assert sessions[("u1", "web")].noticed[0] == (GROUP_QUEUE, expected)
    assert sessions[("u1", "web")].noticed[1][0] == "u0"


class _DirectSocket:
    """A socket taking frames without a wait while ``ready``; ``send`` waits until then."""

    def __init__(self) -> None:
        self.wire: list[bytes] = []
        self.four = asyncio.Event()
        self.ready = asyncio.Event()
        self.ready.set()
        self.direct = 0

    async def receive(self) -> bytes | None:
        await asyncio.Event().wait()
        return None

    def send_nowait(self, data: bytes) -> bool:
        if not self.ready.is_set():
            return False
        self.direct += 1
        self.wire.append(data)
        return True

    async def send(self, data: bytes) -> None:
        await self.ready.wait()
        self.wire.append(data)
        if len(self.wire) >= 4:
            self.four.set()

    async def close(self, code: int, reason: str = "") -> None:
        pass


class _Clock:
    def now_ms(self) -> int:
        return 1_764_547_200_000


async def test_frames_written_straight_to_the_socket_keep_their_order() -> None:
    socket = _DirectSocket()
    clock = _Clock()
    conn = Connection(
        socket,
        lambda c, d: asyncio.sleep(0),
        registry=SessionRegistry(),
        settings=Settings(),
        clock=clock,
        ids=IdGenerator(clock.now_ms),
    )
    conn.state = ConnState.PROVISIONED
    runner = asyncio.create_task(conn.run())
    await asyncio.sleep(0)
    conn.send(b"1")
    socket.ready.clear()  # the transport is past its high-water mark
    conn.send(b"2")
    conn.send(b"3")
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the send task is now waiting to write "2"
    socket.ready.set()
    conn.send(b"4")  # behind "2" and "3", never before them
    async with asyncio.timeout(5):
        await socket.four.wait()
    conn.send(b"5")  # nothing waits any more: straight to the socket again
    assert socket.wire == [b"1", b"2", b"3", b"4", b"5"]
    assert socket.direct == 2
    conn.close(1000, flush=False)
    async with asyncio.timeout(5):
        await runner
