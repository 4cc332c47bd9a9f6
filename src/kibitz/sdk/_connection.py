"""One msync WebSocket: login (PROVISION), the reader loop, pull/ack and send acks.

The connection does not reconnect and holds no user-facing state; ``ChatClient`` owns it,
runs ``run()`` (the only reader of the socket) in a task it owns, and opens a new
connection after a drop. The reader loop doubles as the heartbeat: when nothing arrives
for ``heartbeat_interval`` it sends UNREAD (as the Web SDK does), and if the server stays
silent for ``request_timeout`` more the link is declared dead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import (
    USER_DOMAIN,
    FrameError,
    decode_frame,
    decode_payload,
    encode_frame,
    jid,
    pb,
)

from ._codes import kick_code, login_error, send_error
from ._pull import Puller

__all__ = ["Login", "MsyncConnection", "ProvisionReply"]

log = logging.getLogger("kibitz.sdk")

SDK_VERSION: Final = "kibitz-py/0.1.0"
MAX_FRAME_BYTES: Final = 4 * 1024 * 1024
CLOSE_TIMEOUT_S: Final = 2.0

MetasHandler = Callable[[list[pb.Meta]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Login:
    """Who logs in, and with what."""

    app_key: str
    username: str
    token: str
    resource: str
    device_name: str
    device_uuid: str


@dataclass(frozen=True, slots=True)
class ProvisionReply:
    resource: str  # the server's choice (usually our own, echoed)
    token_expires_at_ms: int | None  # from authToken's expires_in (absolute epoch ms)


def new_resource() -> str:
    return f"py_{secrets.token_hex(6)}"


def new_device_uuid() -> str:
    return str(uuid.uuid4())


def _provision_frame(login: Login) -> bytes:
    auth = "$t$" + login.token
    provision = pb.Provision(
        os_type=pb.Provision.OS_OTHER,
        version=SDK_VERSION,
        compress_type=[0],
        encrypt_type=[0],
        device_uuid=login.device_uuid,
        device_name=login.device_name,
        resource=login.resource,
        action_version="v5.1",
        auth_token=json.dumps({"token": auth}, separators=(",", ":")),
        session_id=f"{int(time.time() * 1000)}:",
    )
    frame = pb.MSync(
        command=pb.MSync.PROVISION,
        guid=jid(login.app_key, login.username, USER_DOMAIN, login.resource),
        auth=auth,
        encrypt_type=[0],
        payload=provision.SerializeToString(),
    )
    return frame.SerializeToString()


def _token_expiry(auth_token: str) -> int | None:
    if not auth_token:
        return None
    try:
        value = json.loads(auth_token).get("expires_in")
    except (ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int | float) and value > 0 else None


class MsyncConnection:
    """A logged-in msync WebSocket. ``open()`` logs in; ``run()`` reads until it ends."""

    def __init__(
        self,
        ws: ClientConnection,
        login: Login,
        *,
        request_timeout: float,
        heartbeat_interval: float,
        on_metas: MetasHandler,
    ) -> None:
        self._ws = ws
        self.login = login
        self._request_timeout = request_timeout
        self._heartbeat = heartbeat_interval
        self._on_metas = on_metas
        self._acks: dict[int, asyncio.Future[pb.CommSyncDL]] = {}
        self._puller = Puller(self._send)
        self._ended: ErrorCode | None = None

    # -- opening -----------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        url: str,
        login: Login,
        *,
        connect_timeout: float,
        request_timeout: float,
        heartbeat_interval: float,
        on_metas: MetasHandler,
    ) -> tuple[MsyncConnection, ProvisionReply]:
        """Connect and log in; raises ``ChatError`` with the code a native SDK would."""
        ws: ClientConnection | None = None
        try:
            async with asyncio.timeout(connect_timeout):
                ws = await _connect(url)
                await ws.send(_provision_frame(login))
                reply = await _provision_reply(ws)
        except TimeoutError as exc:
            await _abort(ws)
            raise ChatError(ErrorCode.SERVER_TIMEOUT, f"no login answer from {url}") from exc
        except ConnectionClosed as exc:
            await _abort(ws)
            raise ChatError(ErrorCode.NETWORK_ERROR, f"{url} closed during login") from exc
        except BaseException:
            await _abort(ws)
            raise
        if reply.status.error_code != pb.Status.OK:
            await _abort(ws)
            raise login_error(reply.status)
        resource = reply.resource or login.resource
        conn = cls(
            ws,
            replace(login, resource=resource),
            request_timeout=request_timeout,
            heartbeat_interval=heartbeat_interval,
            on_metas=on_metas,
        )
        return conn, ProvisionReply(resource, _token_expiry(reply.auth_token))

    async def start_sync(self) -> None:
        """What the Web SDK sends right after login: UNREAD, then a statistics Meta."""
        await self._send(encode_frame(pb.MSync.UNREAD))
        stats = pb.StatisticsBody(operation=pb.StatisticsBody.INFORMATION, version=SDK_VERSION)
        meta = pb.Meta(
            id=int(time.time() * 1000), ns=pb.Meta.STATISTIC, payload=stats.SerializeToString()
        )
        await self._send(encode_frame(pb.MSync.SYNC, pb.CommSyncUL(meta=meta)))

    # -- writing -----------------------------------------------------------------------

    async def _send(self, data: bytes) -> None:
        try:
            async with asyncio.timeout(self._request_timeout):
                await self._ws.send(data)
        except TimeoutError as exc:
            raise ChatError(ErrorCode.SERVER_TIMEOUT, "the server does not read") from exc
        except ConnectionClosed as exc:
            raise ChatError(ErrorCode.NETWORK_ERROR, "the connection is closed") from exc

    async def send_meta(self, meta: pb.Meta) -> pb.CommSyncDL:
        """Send one chat Meta and wait for its ack; returns the ack (status OK)."""
        if self._ended is not None:
            raise ChatError(ErrorCode.NETWORK_ERROR, "the connection is closed")
        ack: asyncio.Future[pb.CommSyncDL] = asyncio.get_running_loop().create_future()
        self._acks[meta.id] = ack
        try:
            async with asyncio.timeout(self._request_timeout):
                await self._ws.send(encode_frame(pb.MSync.SYNC, pb.CommSyncUL(meta=meta)))
                dl = await ack
        except TimeoutError as exc:
            raise ChatError(ErrorCode.SERVER_TIMEOUT, "no send ack from the server") from exc
        except ConnectionClosed as exc:
            raise ChatError(ErrorCode.NETWORK_ERROR, "the connection broke while sending") from exc
        finally:
            self._acks.pop(meta.id, None)
        if dl.status.error_code != pb.Status.OK:
            raise send_error(dl.status)
        return dl

    async def close(self, *, logout: bool = False) -> None:
        """Close the socket (after a LOGOUT frame when the user logs out). Never raises."""
        if logout:
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await self._ws.send(encode_frame(pb.MSync.LOGOUT))
            except (TimeoutError, ConnectionClosed, OSError):
                pass
        await _abort(self._ws)

    # -- reading -----------------------------------------------------------------------

    async def run(self) -> ErrorCode:
        """Read and handle frames until the connection ends; returns why it ended:
        a kick code (the session is over) or ``NETWORK_ERROR`` (reconnect may help)."""
        idle, probing = self._heartbeat, False
        try:
            while self._ended is None:
                try:
                    async with asyncio.timeout(idle):
                        data = await self._ws.recv()
                except TimeoutError:
                    if probing:
                        log.info("server silent after a heartbeat probe; connection dead")
                        self._ended = ErrorCode.NETWORK_ERROR
                        break
                    probing, idle = True, self._request_timeout
                    await self._send(encode_frame(pb.MSync.UNREAD))
                    continue
                probing, idle = False, self._heartbeat
                if isinstance(data, bytes):
                    await self._handle(data)
        except (ConnectionClosed, ChatError):
            pass
        except Exception:  # a bug in handling must not leave a half-dead session behind
            log.exception("msync reader failed; dropping the connection")
        finally:
            if self._ended is None:
                self._ended = ErrorCode.NETWORK_ERROR
            self._fail_acks()
        await _abort(self._ws)
        return self._ended

    def _fail_acks(self) -> None:
        for ack in self._acks.values():
            if not ack.done():
                ack.set_exception(
                    ChatError(ErrorCode.NETWORK_ERROR, "the connection broke before the ack")
                )
                ack.exception()  # retrieved here, so an abandoned future cannot warn

    async def _handle(self, data: bytes) -> None:
        try:
            frame = decode_frame(data)
            if frame.command == pb.MSync.SYNC:
                await self._on_sync(decode_payload(pb.CommSyncDL, frame.payload))
            elif frame.command == pb.MSync.NOTICE:
                notice = decode_payload(pb.CommNotice, frame.payload)
                own = (notice.queue.name, notice.queue.client_resource) == (
                    self.login.username,
                    self.login.resource,
                )
                if not own:
                    await self._puller.want(notice.queue)
            elif frame.command == pb.MSync.UNREAD:
                unread = decode_payload(pb.CommUnreadDL, frame.payload)
                for item in unread.unread:
                    await self._puller.want(item.queue)
        except FrameError:
            log.warning("ignoring a malformed frame from the server")

    async def _on_sync(self, dl: pb.CommSyncDL) -> None:
        if dl.HasField("meta_id"):
            ack = self._acks.get(dl.meta_id)
            if ack is not None and not ack.done():
                ack.set_result(dl)
            if not dl.metas:
                return
        chat: list[pb.Meta] = []
        for meta in dl.metas:
            if meta.ns == pb.Meta.STATISTIC:
                code = _kick(meta)
                if code is not None:
                    self._ended = code  # the server closes next; stop reading now
                    return
            else:
                chat.append(meta)
        if chat:
            await self._on_metas(chat)
        if dl.HasField("queue"):
            await self._puller.on_batch(dl)


def _kick(meta: pb.Meta) -> ErrorCode | None:
    try:
        body = decode_payload(pb.StatisticsBody, meta.payload)
    except FrameError:
        return None
    return kick_code(body.operation)


async def _connect(url: str) -> ClientConnection:
    try:
        return await connect(
            url,
            open_timeout=None,  # the caller's deadline covers the whole login
            ping_interval=None,  # msync has its own heartbeat (UNREAD)
            compression=None,
            max_size=MAX_FRAME_BYTES,
            close_timeout=CLOSE_TIMEOUT_S,
            user_agent_header=SDK_VERSION,
        )
    except InvalidURI as exc:
        raise ChatError(ErrorCode.SERVER_NOT_REACHABLE, f"bad im_server URL {url!r}") from exc
    except InvalidStatus as exc:
        status = exc.response.status_code
        raise ChatError(
            ErrorCode.SERVER_NOT_REACHABLE, f"{url} answered HTTP {status}, not a WebSocket"
        ) from exc
    except InvalidHandshake as exc:
        raise ChatError(ErrorCode.NETWORK_ERROR, f"WebSocket handshake with {url} failed") from exc
    except OSError as exc:  # refused, unreachable, DNS
        raise ChatError(ErrorCode.SERVER_NOT_REACHABLE, f"cannot reach {url}: {exc}") from exc


async def _provision_reply(ws: ClientConnection) -> pb.Provision:
    while True:
        data = await ws.recv()
        if not isinstance(data, bytes):
            continue
        try:
            frame = decode_frame(data)
            if frame.command == pb.MSync.PROVISION:
                return decode_payload(pb.Provision, frame.payload)
        except FrameError:
            continue


async def _abort(ws: ClientConnection | None) -> None:
    if ws is None:
        return
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S + 1):
            await ws.close()
    except (TimeoutError, OSError, ConnectionClosed):
        pass
