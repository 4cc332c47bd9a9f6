"""A small scripted msync server for the SDK's mechanics tests (reconnect, dedupe, pull/ack
edge cases, heartbeats, timeouts) — the situations a real server will not produce on cue.

It stores 1:1 messages per (recipient, sender queue), acks sends, NOTICEs recipients,
answers UNREAD and pulls as protocol §5 says. Knobs let a test break the rules.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from kibitz.protocol._msync import (
    USER_DOMAIN,
    decode_frame,
    decode_payload,
    encode_frame,
    jid,
    pb,
)

APP_KEY = "acme#chat"


@dataclass
class Session:
    user: str
    resource: str
    ws: ServerConnection


@dataclass
class FakeMsync:
    tokens: dict[str, str] = field(default_factory=dict)  # token → username
    expires_at_ms: int | None = None
    login_status: pb.Status | None = None  # refuse every login with this
    ack_sends: bool = True  # False: never ack a send (SERVER_TIMEOUT)
    answer_unread: bool = True  # False: heartbeats go unanswered
    drop_after_batch: bool = False  # close the socket right after sending a batch
    repeat_next_key: bool = False  # answer every ack with the same batch again
    batch_size: int = 100
    # state
    inbox: dict[tuple[str, str], list[pb.Meta]] = field(default_factory=dict)
    sessions: list[Session] = field(default_factory=list)
    logins: int = 0
    frames: list[tuple[str, int]] = field(default_factory=list)  # (user, command) received
    server: Server | None = None
    pulled: asyncio.Event = field(default_factory=asyncio.Event)  # set on every pull
    sent: asyncio.Event = field(default_factory=asyncio.Event)  # a chat Meta arrived
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_000_000))

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/websocket"

    def store(self, sender: str, to: str, text: str) -> pb.Meta:
        """A message as the server would store it (as if sent by ``sender``)."""
        body = pb.MessageBody(
            type=pb.MessageBody.CHAT,
            from_jid=pb.JID(name=sender),
            to_jid=pb.JID(name=to),
            contents=[pb.MessageBody.Content(type=pb.MessageBody.Content.TEXT, text=text)],
        )
        meta = pb.Meta(
            id=next(self._ids),
            from_jid=jid(APP_KEY, sender),
            to_jid=jid(APP_KEY, to),
            timestamp=int(time.time() * 1000),
            ns=pb.Meta.CHAT,
            payload=body.SerializeToString(),
        )
        self.inbox.setdefault((to, sender), []).append(meta)
        return meta

    async def notify(self, to: str, sender: str) -> None:
        frame = encode_frame(pb.MSync.NOTICE, pb.CommNotice(queue=jid(APP_KEY, sender)))
        for s in [s for s in self.sessions if s.user == to]:
            try:
                await s.ws.send(frame)
            except ConnectionClosed:
                pass

    async def kick(self, user: str, operation: int) -> None:
        stats = pb.StatisticsBody(operation=operation)  # type: ignore[arg-type]
        meta = pb.Meta(
            id=next(self._ids),
            from_jid=jid(APP_KEY, "admin"),
            to_jid=jid(APP_KEY, user),
            ns=pb.Meta.STATISTIC,
            payload=stats.SerializeToString(),
        )
        dl = pb.CommSyncDL(status=pb.Status(), queue=jid(APP_KEY, user), metas=[meta])
        for s in [s for s in self.sessions if s.user == user]:
            await s.ws.send(encode_frame(pb.MSync.SYNC, dl))
            await s.ws.close()

    async def acked(self, to: str, sender: str) -> None:
        """Wait until every message from ``sender`` to ``to`` was acknowledged."""
        async with asyncio.timeout(10):
            while self.inbox.get((to, sender)):
                self.pulled.clear()
                await self.pulled.wait()

    async def drop_all(self) -> None:
        for s in list(self.sessions):
            await s.ws.close()

    # -- the connection handler --------------------------------------------------------

    async def handler(self, ws: ServerConnection) -> None:
        session: Session | None = None
        try:
            async for data in ws:
                assert isinstance(data, bytes)
                frame = decode_frame(data)
                if session is None:
                    session = await self._provision(ws, frame)
                    if session is None:
                        await ws.close()
                        return
                    continue
                self.frames.append((session.user, frame.command))
                if frame.command == pb.MSync.UNREAD:
                    await self._unread(session)
                elif frame.command == pb.MSync.SYNC:
                    await self._sync(session, decode_payload(pb.CommSyncUL, frame.payload))
        except ConnectionClosed:
            pass
        finally:
            if session is not None and session in self.sessions:
                self.sessions.remove(session)

    async def _provision(self, ws: ServerConnection, frame: pb.MSync) -> Session | None:
        self.logins += 1
        req = decode_payload(pb.Provision, frame.payload)
        token = frame.auth.removeprefix("$t$")
        user = frame.guid.name
        status = self.login_status
        if status is None and self.tokens.get(token) != user:
            status = pb.Status(
                error_code=pb.Status.FAIL,
                reason="Sorry, token or password does not match login info",
            )
        reply = pb.Provision(status=status or pb.Status(), resource=req.resource)
        if status is None and self.expires_at_ms is not None:
            reply.auth_token = json.dumps({"expires_in": self.expires_at_ms})
        await ws.send(encode_frame(pb.MSync.PROVISION, reply))
        if status is not None:
            return None
        session = Session(user, req.resource, ws)
        self.sessions.append(session)
        return session

    async def _unread(self, s: Session) -> None:
        if not self.answer_unread:
            return
        queues = [
            pb.MetaQueue(queue=jid(APP_KEY, sender), n=len(metas))
            for (to, sender), metas in self.inbox.items()
            if to == s.user and metas
        ]
        dl = pb.CommUnreadDL(status=pb.Status(), unread=queues, timestamp=int(time.time() * 1000))
        await s.ws.send(encode_frame(pb.MSync.UNREAD, dl))

    async def _sync(self, s: Session, ul: pb.CommSyncUL) -> None:
        if ul.HasField("meta"):
            if ul.meta.ns != pb.Meta.CHAT:
                return
            self.sent.set()
            if not self.ack_sends:
                return
            body = decode_payload(pb.MessageBody, ul.meta.payload)
            to = ul.meta.to_jid.name
            if to == "nobody":
                status = pb.Status(
                    error_code=pb.Status.FAIL, reason="username nobody doesn't exist!"
                )
                ack = pb.CommSyncDL(status=status, meta_id=ul.meta.id)
                await s.ws.send(encode_frame(pb.MSync.SYNC, ack))
                return
            stored = self.store(s.user, to, body.contents[0].text)
            ack = pb.CommSyncDL(
                status=pb.Status(),
                meta_id=ul.meta.id,
                server_id=stored.id,
                timestamp=stored.timestamp,
            )
            await s.ws.send(encode_frame(pb.MSync.SYNC, ack))
            await self.notify(to, s.user)
            return
        sender = ul.queue.name
        pending = self.inbox.setdefault((s.user, sender), [])
        if ul.HasField("key") and not self.repeat_next_key:
            pending[:] = [m for m in pending if m.id > ul.key]
        self.pulled.set()
        batch = pending[: self.batch_size]
        dl = pb.CommSyncDL(status=pb.Status(), queue=ul.queue, metas=batch)
        if batch:
            dl.next_key = batch[-1].id
        else:
            dl.is_last = True
        await s.ws.send(encode_frame(pb.MSync.SYNC, dl))
        if batch and self.drop_after_batch:
            self.drop_after_batch = False
            await s.ws.close()


@asynccontextmanager
async def fake_msync(**knobs: object) -> AsyncIterator[FakeMsync]:
    fake = FakeMsync(**knobs)  # type: ignore[arg-type]
    async with serve(fake.handler, "127.0.0.1", 0, ping_interval=None) as server:
        fake.server = server
        yield fake


__all__ = ["APP_KEY", "USER_DOMAIN", "FakeMsync", "fake_msync"]
