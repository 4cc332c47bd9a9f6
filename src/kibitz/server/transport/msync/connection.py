"""One msync connection: its state machine, its bounded send queue and its two tasks.

A receive task reads frames (with the provision or idle deadline) and hands each to the
dispatcher; a send task drains the outbox into the socket, in order. Both live in one
TaskGroup owned by ``run()``. Anything may ask the connection to close: the registry (kicks,
shutdown), the dispatcher (failed login, bad frames), ``send`` (a consumer too slow to keep
its outbox under the limit) — ``close`` is synchronous and idempotent, and ``run()``'s
``finally`` closes the socket exactly once.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Final, Protocol

from kibitz.protocol import ErrorCode, IdGenerator
from kibitz.server.domain.models import App, User
from kibitz.server.domain.ports import Clock
from kibitz.server.settings import Settings

from .close import Close
from .frames import kick_frame
from .registry import SessionRegistry

__all__ = [
    "ConnState",
    "Connection",
    "FrameRejected",
    "FrameSocket",
    "IllegalTransition",
    "Login",
]

log = logging.getLogger(__name__)

_FLUSH_GRACE_S: Final = 2.0  # a closing connection's last frames get this long to leave
# After a kick meta the socket stays open this long before the server closes it: the Web SDK
# marks itself logged out only once it has processed the meta (4.21 awaits a cache clear
# first), and a close it sees before that makes it reconnect instead of reporting the kick.
_KICK_LINGER_S: Final = 0.5
_MAX_SENDS_IN_FLIGHT: Final = 64
# Frames waiting in the outbox after which the receive loop lets the send loop write before
# it reads on: requests answered without I/O (an empty SYNC) never yield otherwise, and a
# client pipelining a thousand of them would fill the outbox unread, like a slow consumer.
_WRITE_BEFORE_READING_AT: Final = 32


class ConnState(enum.Enum):
    CONNECTED = "connected"  # socket open, PROVISION expected
    PROVISIONED = "provisioned"  # logged in as one user on one resource
    CLOSED = "closed"


_ALLOWED: Final = {
    ConnState.CONNECTED: {ConnState.PROVISIONED, ConnState.CLOSED},
    ConnState.PROVISIONED: {ConnState.CLOSED},
    ConnState.CLOSED: set(),
}


class IllegalTransition(RuntimeError):
    pass


class FrameRejected(Exception):
    """The peer sent something that is not one msync frame (text, or over the size limit)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class FrameSocket(Protocol):
    async def receive(self) -> bytes | None:
        """The next binary frame; None once the peer has gone. May raise FrameRejected."""
        ...

    async def send(self, data: bytes) -> None: ...

    # Optional: ``def send_nowait(self, data: bytes) -> bool`` — take the frame now if
    # that needs no wait (True), else take nothing (False). The connection then writes
    # without waking its send task; frames still leave in order.

    async def close(self, code: int, reason: str = "") -> None: ...


@dataclass(frozen=True, slots=True)
class Login:
    app: App
    user: User
    resource: str
    expires_at_ms: int
    device_uuid: str = ""
    device_name: str = ""


Handler = Callable[["Connection", bytes], Awaitable[None]]


class Connection:
    def __init__(
        self,
        socket: FrameSocket,
        handle: Handler,
        *,
        registry: SessionRegistry,
        settings: Settings,
        clock: Clock,
        ids: IdGenerator,
        on_close: Callable[[Connection], None] | None = None,
    ) -> None:
        self._socket = socket
        self._on_close = on_close
        self._handle = handle
        self._registry = registry
        self._settings = settings
        self._clock = clock
        self._ids = ids
        self.state = ConnState.CONNECTED
        self.session_id = secrets.token_hex(8)  # names this connection in cluster-wide kicks
        self.login: Login | None = None
        self.acked: dict[str, int] = {}  # this device's cursors, as far as it told us
        self._outbox: deque[bytes | None] = deque()
        self._outbox_bytes = 0
        self._wakeup = asyncio.Event()
        self._closed = asyncio.Event()
        self._closing = False
        self._linger_s = 0.0
        self._close_code: int = Close.NORMAL
        self._close_reason = ""
        self._peer_gone = False
        self._tasks: asyncio.TaskGroup | None = None
        self._started = False
        self._recv_task: asyncio.Task[None] | None = None
        self._send_task: asyncio.Task[None] | None = None
        self._send_slots = asyncio.Semaphore(_MAX_SENDS_IN_FLIGHT)
        self._yield_at = min(_WRITE_BEFORE_READING_AT, settings.send_queue_frames // 2)
        self._pulling: str | None = None
        self._deferred_notice: bytes | None = None
        self._noticed: set[str] = set()
        # Straight to the socket while nothing waits before the frame (outbox empty, the
        # send task not mid-write): a fan-out burst then costs no task wakeup per frame.
        self._send_now: Callable[[bytes], bool] | None = getattr(socket, "send_nowait", None)
        self._writing = False

    # -- state -----------------------------------------------------------------------------

    @property
    def resource(self) -> str:
        return self.login.resource if self.login else ""

    @property
    def closing(self) -> bool:
        return self._closing

    def transition(self, new: ConnState) -> None:
        if new not in _ALLOWED[self.state]:
            raise IllegalTransition(f"{self.state.value} → {new.value}")
        self.state = new

    def provisioned(self, login: Login) -> None:
        """The login succeeded and the registry holds this connection."""
        self.transition(ConnState.PROVISIONED)
        self.login = login

    # -- outbound --------------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Queue a frame; a consumer that lets its outbox fill up is disconnected (its
        messages wait in storage for its next login)."""
        if self._closing:
            return
        now = self._send_now
        if now is not None and not self._outbox and not self._writing and now(frame):
            return
        settings = self._settings
        if len(self._outbox) >= settings.send_queue_frames or (
            self._outbox and self._outbox_bytes + len(frame) > settings.send_queue_bytes
        ):
            self.close(Close.TRY_LATER, "send queue full", flush=False)
            return
        self._outbox.append(frame)
        self._outbox_bytes += len(frame)
        self._wakeup.set()

    def notify(self, queue: str, frame: bytes) -> None:
        """A NOTICE for ``queue``; at most one outstanding per queue. One arriving while that
        queue's pull is being answered is held until the answer has been queued, so the
        client (which drops notices for queues it is still pulling) cannot miss it."""
        if self.state is not ConnState.PROVISIONED or self._closing:
            return
        if queue == self._pulling:
            self._deferred_notice = frame
        elif queue not in self._noticed:
            self._noticed.add(queue)
            self.send(frame)

    def begin_pull(self, queue: str) -> None:
        self._noticed.discard(queue)
        self._pulling = queue
        self._deferred_notice = None

    def end_pull(self, queue: str) -> None:
        self._pulling = None
        frame, self._deferred_notice = self._deferred_notice, None
        if frame is not None:
            self._noticed.add(queue)
            self.send(frame)

    # -- concurrency -----------------------------------------------------------------------

    async def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` beside the receive loop (a send waiting for its commit), at most
        ``_MAX_SENDS_IN_FLIGHT`` at once: past that the receive loop waits (backpressure)."""
        if self._tasks is None:
            await work
            return
        await self._send_slots.acquire()
        self._tasks.create_task(self._guarded(work))

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            log.exception("msync task failed")
            self.close(Close.INTERNAL, "internal error", flush=False)
        finally:
            self._send_slots.release()

    # -- closing ---------------------------------------------------------------------------

    def close(
        self,
        code: int,
        reason: str = "",
        *,
        flush: bool = True,
        last: bytes | None = None,
        linger_s: float = 0.0,
    ) -> None:
        """Stop reading; send what is queued (and ``last``) if ``flush``, wait ``linger_s``;
        then close."""
        if self._closing:
            return
        self._closing = True
        if reason and code != Close.GOING_AWAY:  # closed for a cause (not at shutdown)
            who = f"{self.login.user.username}/{self.resource}" if self.login else "no login"
            log.info("msync session closed: %s (close %d, %s)", reason, code, who)
        self._linger_s = linger_s
        self._close_code, self._close_reason = code, reason
        self._leave()
        current = asyncio.current_task()
        if self._recv_task is not None and self._recv_task is not current:
            self._recv_task.cancel()
        if flush:
            if last is not None:
                self._outbox.append(last)
                self._outbox_bytes += len(last)
            self._outbox.append(None)
            self._wakeup.set()
            asyncio.get_running_loop().call_later(_FLUSH_GRACE_S, self._stop_sending)
        else:
            self._stop_sending()

    def _stop_sending(self) -> None:
        if self._send_task is not None and not self._send_task.done():
            self._send_task.cancel()
        # What was queued will never be sent: let it go now (a slow consumer's outbox can
        # hold megabytes), not whenever the cyclic collector next looks at this object.
        self._outbox.clear()
        self._outbox_bytes = 0

    def _leave(self) -> None:
        if self.state is not ConnState.CLOSED:
            self.transition(ConnState.CLOSED)
        if self.login is not None:
            self._registry.remove(self.login.app.id, self.login.user.username, self)

    async def _wait_closed(self) -> None:
        if not self._started:  # never ran (driven directly by tests): nothing to wait for
            return
        with suppress(TimeoutError):
            async with asyncio.timeout(_FLUSH_GRACE_S + 1):
                await self._closed.wait()

    async def kick(self, code: ErrorCode, reason: str = "") -> None:
        """Tell the client why (a STATISTIC meta), then close; never raises."""
        login = self.login
        if login is not None and not self._closing:
            frame = kick_frame(
                login.app.app_key,
                login.user.username,
                code,
                self._ids.next_id(),
                self._clock.now_ms(),
                reason,
            )
            self.close(Close.NORMAL, "logged out", last=frame, linger_s=_KICK_LINGER_S)
        else:
            self.close(Close.NORMAL, "logged out")
        await self._wait_closed()

    async def close_for_shutdown(self) -> None:
        self.close(Close.GOING_AWAY, "server shutting down", flush=False)
        await self._wait_closed()

    # -- the two loops ---------------------------------------------------------------------

    async def run(self) -> None:
        self._started = True
        try:
            async with asyncio.TaskGroup() as tg:
                self._tasks = tg
                self._recv_task = tg.create_task(self._receive_loop())
                self._send_task = tg.create_task(self._send_loop())
        except Exception:
            log.exception("msync connection failed")
        finally:
            self._tasks = self._recv_task = self._send_task = None  # no task ↔ self cycle
            self.close(Close.INTERNAL, "internal error", flush=False)
            self._outbox.clear()
            self._outbox_bytes = 0
            if self._on_close is not None:
                self._on_close(self)
            if not self._peer_gone:
                with suppress(Exception):
                    async with asyncio.timeout(1.0):
                        await self._socket.close(self._close_code, self._close_reason)
            self._closed.set()

    async def _receive_loop(self) -> None:
        settings = self._settings
        # A socket that can time a wait itself spares an asyncio.timeout() per frame.
        receive_within = getattr(self._socket, "receive_within", None)
        while not self._closing:
            connected = self.state is ConnState.CONNECTED
            deadline = settings.provision_timeout_s if connected else settings.idle_timeout_s
            try:
                if receive_within is not None:
                    data = await receive_within(deadline)
                else:
                    async with asyncio.timeout(deadline):
                        data = await self._socket.receive()
            except TimeoutError:
                why = "no login in time" if connected else "idle"
                self.close(Close.NORMAL, why, flush=False)
                return
            except FrameRejected as exc:
                self.close(exc.code, exc.reason, flush=False)
                return
            if data is None:
                self._peer_gone = True
                self.close(Close.NORMAL, flush=False)
                return
            await self._handle(self, data)
            if len(self._outbox) >= self._yield_at:
                await asyncio.sleep(0)  # the send loop drains the outbox into the socket

    async def _send_loop(self) -> None:
        outbox, wakeup = self._outbox, self._wakeup
        while True:
            while not outbox:
                wakeup.clear()
                await wakeup.wait()
            frame = outbox.popleft()
            if frame is None:
                if self._linger_s:
                    await asyncio.sleep(self._linger_s)
                return
            self._outbox_bytes -= len(frame)
            self._writing = True
            try:
                await self._socket.send(frame)
            except Exception:
                self._peer_gone = True
                self.close(Close.NORMAL, flush=False)
                return
            finally:
                self._writing = False
