"""A small msync test client on the ``websockets`` client: it speaks the Web SDK's frames
(PROVISION, UNREAD, SYNC send / pull / ack) and keeps every frame it has not been asked
about yet, so a test can wait for "the ack of message 7" while notices arrive around it."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from kibitz.protocol._msync import (
    USER_DOMAIN,
    Content,
    ContentKind,
    content_to_pb,
    decode_payload,
    encode_frame,
    ext_to_keyvalues,
    jid,
    pb,
)

TIMEOUT = 5.0
_local_ids = itertools.count(1_700_000_000_000)


@dataclass
class Frame:
    msync: pb.MSync
    inner: Any  # the decoded payload: Provision, CommSyncDL, CommUnreadDL or CommNotice


_PAYLOADS: dict[int, type[Any]] = {
    pb.MSync.PROVISION: pb.Provision,
    pb.MSync.SYNC: pb.CommSyncDL,
    pb.MSync.UNREAD: pb.CommUnreadDL,
    pb.MSync.NOTICE: pb.CommNotice,
}


def text_body(to: str, text: str, ext: dict[str, object] | None = None) -> pb.MessageBody:
    body = pb.MessageBody(type=pb.MessageBody.CHAT, to_jid=pb.JID(name=to))
    body.contents.append(content_to_pb(Content(kind=ContentKind.TEXT, text=text)))
    if ext:
        body.ext.extend(ext_to_keyvalues(ext))
    return body


def body_text(meta: pb.Meta) -> str:
    body = decode_payload(pb.MessageBody, meta.payload)
    return body.contents[0].text


class MsyncClient:
    def __init__(self, ws: ClientConnection, app_key: str) -> None:
        self.ws = ws
        self.app_key = app_key
        self.buffer: list[Frame] = []
        self.username = ""
        self.resource = ""

    @classmethod
    async def open(cls, url: str, app_key: str, **kwargs: Any) -> MsyncClient:
        ws = await connect(url, compression=None, ping_interval=None, **kwargs)
        return cls(ws, app_key)

    async def close(self) -> None:
        await self.ws.close()

    # -- raw frames ------------------------------------------------------------------------

    async def send_raw(self, data: bytes | str) -> None:
        await self.ws.send(data)

    async def _read(self, wait: float) -> Frame:
        data = await asyncio.wait_for(self.ws.recv(), wait)
        assert isinstance(data, bytes), "the server sent a text frame"
        msync = pb.MSync()
        msync.ParseFromString(data)
        inner_type = _PAYLOADS.get(msync.command)
        inner = decode_payload(inner_type, msync.payload) if inner_type else None
        return Frame(msync, inner)

    async def expect(self, match: Callable[[Frame], bool], wait: float = TIMEOUT) -> Frame:
        """The first frame (buffered or new) that matches; the others stay buffered."""
        for i, frame in enumerate(self.buffer):
            if match(frame):
                return self.buffer.pop(i)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            frame = await self._read(max(deadline - loop.time(), 0.001))
            if match(frame):
                return frame
            self.buffer.append(frame)

    async def closed(self, wait: float = TIMEOUT) -> int | None:
        """Read (and keep) frames until the server closes; the close code."""
        try:
            async with asyncio.timeout(wait):
                while True:
                    self.buffer.append(await self._read(wait))
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None

    # -- login -----------------------------------------------------------------------------

    async def provision(
        self, username: str, token: str, resource: str = "", *, where: str = "auth"
    ) -> pb.Provision:
        prov = pb.Provision(
            os_type=pb.Provision.OS_OTHER,
            version="1.4.0",
            device_uuid="test",
            device_name="webim",
            resource=resource,
            action_version="v5.1",
            session_id="1:",
        )
        prov.compress_type.append(0)
        msync = pb.MSync(
            command=pb.MSync.PROVISION,
            guid=jid(self.app_key, username, USER_DOMAIN, resource),
        )
        if where == "auth":
            msync.auth = "$t$" + token
        elif where == "auth_token":
            prov.auth_token = json.dumps({"token": "$t$" + token})
        else:
            prov.auth = "$t$" + token
        msync.payload = prov.SerializeToString()
        await self.ws.send(msync.SerializeToString())
        reply = await self.expect(lambda f: f.msync.command == pb.MSync.PROVISION)
        inner: pb.Provision = reply.inner
        if inner.status.error_code == pb.Status.OK:
            self.username, self.resource = username, inner.resource
        return inner

    async def login(self, username: str, token: str, resource: str = "") -> pb.Provision:
        reply = await self.provision(username, token, resource)
        assert reply.status.error_code == pb.Status.OK, reply.status
        return reply

    # -- commands --------------------------------------------------------------------------

    async def unread(self) -> dict[str, int]:
        await self.ws.send(encode_frame(pb.MSync.UNREAD))
        reply = await self.expect(lambda f: f.msync.command == pb.MSync.UNREAD)
        assert reply.inner.status.error_code == pb.Status.OK
        assert reply.inner.timestamp > 0
        return {mq.queue.name: mq.n for mq in reply.inner.unread}

    async def send_meta(self, meta: pb.Meta) -> pb.CommSyncDL:
        await self.ws.send(encode_frame(pb.MSync.SYNC, pb.CommSyncUL(meta=meta)))
        reply = await self.expect(
            lambda f: f.msync.command == pb.MSync.SYNC and f.inner.meta_id == meta.id
        )
        ack: pb.CommSyncDL = reply.inner
        return ack

    async def send_body(
        self, to: str, body: pb.MessageBody, *, online_only: bool = False
    ) -> pb.CommSyncDL:
        body.from_jid.name = self.username
        meta = pb.Meta(
            id=next(_local_ids),
            to_jid=jid(self.app_key, to),
            ns=pb.Meta.CHAT,
            routetype=pb.Meta.ROUTE_ONLINE if online_only else pb.Meta.ROUTE_ALL,
            payload=body.SerializeToString(),
        )
        return await self.send_meta(meta)

    async def send_text(self, to: str, text: str, **ext: object) -> pb.CommSyncDL:
        return await self.send_body(to, text_body(to, text, ext or None))

    async def notice(self, wait: float = TIMEOUT) -> pb.CommNotice:
        frame = await self.expect(lambda f: f.msync.command == pb.MSync.NOTICE, wait)
        notice: pb.CommNotice = frame.inner
        return notice

    async def pull_once(self, queue: str, key: int = 0) -> pb.CommSyncDL:
        ul = pb.CommSyncUL(queue=jid(self.app_key, queue))
        if key:
            ul.key = key
        await self.ws.send(encode_frame(pb.MSync.SYNC, ul))
        frame = await self.expect(
            lambda f: (
                f.msync.command == pb.MSync.SYNC
                and not f.inner.meta_id
                and f.inner.queue.name == queue
            )
        )
        dl: pb.CommSyncDL = frame.inner
        return dl

    async def pull(self, queue: str) -> list[pb.Meta]:
        """Pull a queue the way the SDK does: batches, each acknowledged, to the empty end."""
        metas: list[pb.Meta] = []
        key = 0
        seen_keys: set[int] = set()
        while True:
            dl = await self.pull_once(queue, key)
            assert dl.status.error_code == pb.Status.OK
            if not dl.metas:
                assert dl.is_last
                return metas
            assert not dl.is_last, "is_last on a non-empty batch"
            assert dl.next_key == dl.metas[-1].id
            assert dl.next_key not in seen_keys, "the same next_key twice"
            seen_keys.add(dl.next_key)
            metas.extend(dl.metas)
            key = dl.next_key
