"""Listeners, events and the one task that delivers them.

Listener methods are optional: a listener implements the ones it wants, plain or
``async``, and the SDK calls only those that exist. The same happenings are also offered
as typed events through ``ChatClient.events()``::

    class Printer:
        def on_message_received(self, messages: list[ChatMessage]) -> None:
            for m in messages:
                print(m.sender, m.text)

    client.chat.add_message_listener(Printer())

    async with client.events() as events:
        async for event in events:
            match event:
                case MessagesReceived(messages=msgs): ...
                case LoggedOut(code=code): ...
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Protocol, TypeAlias

from kibitz.protocol import ErrorCode

from ._contact_events import ContactEvent
from ._group_events import GroupEvent
from ._message import ChatMessage
from ._presence_events import PresenceUpdated

__all__ = [
    "ChatEvent",
    "CmdMessagesReceived",
    "Connected",
    "ConnectionListener",
    "Disconnected",
    "EventStream",
    "LoggedOut",
    "MessageListener",
    "MessageStream",
    "MessagesReceived",
    "TokenExpired",
    "TokenWillExpire",
]

log = logging.getLogger("kibitz.sdk")


class MessageListener(Protocol):
    """Receives messages. Every method is optional: pass any object that has some of them
    (or subclass this class, whose methods do nothing). Methods may be ``async``."""

    def on_message_received(self, messages: list[ChatMessage]) -> object:
        """New chat messages (text, custom, location ...), in conversation order."""

    def on_cmd_message_received(self, messages: list[ChatMessage]) -> object:
        """New command messages."""


class ConnectionListener(Protocol):
    """Follows the connection. Every method is optional: pass any object that has some of
    them (or subclass this class, whose methods do nothing). Methods may be ``async``."""

    def on_connected(self) -> object:
        """Logged in, or reconnected after a drop."""

    def on_disconnected(self, code: ErrorCode) -> object:
        """The connection dropped; reconnecting follows when ``auto_reconnect`` is on."""

    def on_token_will_expire(self) -> object:
        """Half of the token's life has passed: call ``ChatClient.renew_token``."""

    def on_token_expired(self) -> object:
        """The token expired and the session ended: log in again."""

    def on_logged_out(self, code: ErrorCode) -> object:
        """The server ended the session (kicked, user deleted, password changed ...), or
        reconnecting became impossible; ``code`` says why."""


# -- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    """Logged in, or reconnected."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection dropped; ``code`` says why."""

    code: ErrorCode


@dataclass(frozen=True, slots=True)
class MessagesReceived:
    """Chat messages arrived (one batch, in conversation order)."""

    messages: list[ChatMessage]


@dataclass(frozen=True, slots=True)
class CmdMessagesReceived:
    """Command messages arrived."""

    messages: list[ChatMessage]


@dataclass(frozen=True, slots=True)
class TokenWillExpire:
    """Half of the token's lifetime has passed."""


@dataclass(frozen=True, slots=True)
class TokenExpired:
    """The token expired and the session ended (the last event of the session)."""


@dataclass(frozen=True, slots=True)
class LoggedOut:
    """The server ended the session (the last event of the session); ``code`` says why."""

    code: ErrorCode


ChatEvent: TypeAlias = (
    Connected
    | Disconnected
    | MessagesReceived
    | CmdMessagesReceived
    | TokenWillExpire
    | TokenExpired
    | LoggedOut
    | GroupEvent
    | ContactEvent
    | PresenceUpdated
)

_CALLS: Final[dict[type, tuple[str, str]]] = {
    # event type → (listener kind, method name)
    Connected: ("connection", "on_connected"),
    Disconnected: ("connection", "on_disconnected"),
    TokenWillExpire: ("connection", "on_token_will_expire"),
    TokenExpired: ("connection", "on_token_expired"),
    LoggedOut: ("connection", "on_logged_out"),
    MessagesReceived: ("message", "on_message_received"),
    CmdMessagesReceived: ("message", "on_cmd_message_received"),
    GroupEvent: ("group", "on_group_event"),
    ContactEvent: ("contact", "on_contact_event"),
    PresenceUpdated: ("presence", "on_presence_updated"),
}
_END: Final = object()


def _arguments(event: ChatEvent) -> tuple[object, ...]:
    if isinstance(event, Disconnected | LoggedOut):
        return (event.code,)
    if isinstance(event, MessagesReceived | CmdMessagesReceived):
        return (list(event.messages),)
    if isinstance(event, GroupEvent | ContactEvent):
        return (event,)
    if isinstance(event, PresenceUpdated):
        return (list(event.presences),)
    return ()


class EventStream:
    """An async iterator over a client's events, through a bounded queue.

    The queue applies back-pressure: while it is full, delivery (and with it message
    acknowledgement) waits, so nothing is lost. Consume the stream or close it. The stream
    ends after the last event of a session (``LoggedOut``, ``TokenExpired``, or ``logout()``).
    """

    def __init__(self, owner: Dispatcher, maxsize: int) -> None:
        self._owner = owner
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize)
        self._closed = False

    async def _put(self, item: object) -> None:
        if not self._closed:
            await self._queue.put(item)

    def _end(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._queue.put_nowait(_END)
        except asyncio.QueueFull:
            self._queue.get_nowait()  # consumer gone or far behind; make room for the end
            self._queue.put_nowait(_END)

    def close(self) -> None:
        """Stop receiving; events still queued are dropped."""
        self._owner.unsubscribe(self)
        self._end()

    def __aiter__(self) -> AsyncIterator[ChatEvent]:
        return self

    async def __anext__(self) -> ChatEvent:
        item = await self._queue.get()
        if item is _END:
            self._owner.unsubscribe(self)
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    async def get(self, within: float) -> ChatEvent:
        """The next event, waiting at most ``within`` seconds (``TimeoutError`` after).

        Raises:
            StopAsyncIteration: the stream has ended.
        """
        async with asyncio.timeout(within):
            return await self.__anext__()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class MessageStream:
    """Received messages (chat and command) one by one, from a subscription taken when the
    stream is created — so nothing that arrives after ``chat.messages()`` is missed.

    Example:
        >>> inbox = client.chat.messages()  # doctest: +SKIP
        >>> message = await inbox.get(within=10)  # doctest: +SKIP
    """

    def __init__(self, events: EventStream) -> None:
        self._events = events
        self._ready: deque[ChatMessage] = deque()

    def __aiter__(self) -> AsyncIterator[ChatMessage]:
        return self

    async def __anext__(self) -> ChatMessage:
        while not self._ready:
            event = await self._events.__anext__()
            if isinstance(event, MessagesReceived | CmdMessagesReceived):
                self._ready.extend(event.messages)
        return self._ready.popleft()

    async def get(self, within: float) -> ChatMessage:
        """The next message, waiting at most ``within`` seconds (``TimeoutError`` after)."""
        async with asyncio.timeout(within):
            return await self.__anext__()

    def close(self) -> None:
        self._events.close()

    async def __aenter__(self) -> MessageStream:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Dispatcher:
    """Delivers events in order, from one task, to listeners and event streams.

    The task starts with the first event and stops after the end of a session, so nothing
    outlives a logout. The queue is bounded: ``emit`` waits while it is full — except when
    called from a listener (inside the delivery task), which would otherwise wait on itself.
    """

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._items: deque[object] = deque()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.connection_listeners: list[object] = []
        self.message_listeners: list[object] = []
        self.group_listeners: list[object] = []
        self.contact_listeners: list[object] = []
        self.presence_listeners: list[object] = []
        self._streams: list[EventStream] = []

    def subscribe(self) -> EventStream:
        stream = EventStream(self, self._maxsize)
        self._streams.append(stream)
        return stream

    def unsubscribe(self, stream: EventStream) -> None:
        if stream in self._streams:
            self._streams.remove(stream)

    async def emit(self, event: ChatEvent) -> None:
        """Queue an event (waits while the queue is full: back-pressure, never loss)."""
        await self._put(event)

    async def end_session(self) -> None:
        """Queue the end of the session: streams finish after the events queued before it."""
        await self._put(_END)

    async def _put(self, item: object) -> None:
        async with self._changed:
            if not self._inside():
                await self._changed.wait_for(lambda: len(self._items) < self._maxsize)
            self._items.append(item)
            self._changed.notify_all()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="kibitz-dispatcher")

    def _inside(self) -> bool:
        return self._task is not None and asyncio.current_task() is self._task

    async def finish(self, within: float) -> None:
        """Wait (bounded) until everything queued is delivered; then stop the task."""
        task = self._task
        if task is None or task.done() or self._inside():
            return
        try:
            async with asyncio.timeout(within):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._items.clear()
            self._end_streams()

    def _end_streams(self) -> None:
        for stream in list(self._streams):
            stream._end()
        self._streams.clear()

    async def _run(self) -> None:
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: bool(self._items))
                item = self._items.popleft()
                self._changed.notify_all()
            if item is _END:
                self._end_streams()
                if not self._items:
                    return
                continue
            event: ChatEvent = item  # type: ignore[assignment]
            await self._deliver(event)

    async def _deliver(self, event: ChatEvent) -> None:
        kind, method = _CALLS[type(event)]
        listeners = {
            "connection": self.connection_listeners,
            "message": self.message_listeners,
            "group": self.group_listeners,
            "contact": self.contact_listeners,
            "presence": self.presence_listeners,
        }[kind]
        for listener in list(listeners):
            fn = getattr(listener, method, None)
            if fn is None:
                continue
            try:
                result = fn(*_arguments(event))
                if inspect.isawaitable(result):
                    await _await(result)
            except asyncio.CancelledError:
                raise
            except Exception:  # a listener's bug must not stop delivery
                log.exception("listener %s.%s raised", type(listener).__name__, method)
        for stream in list(self._streams):
            await stream._put(event)


async def _await(result: Awaitable[object]) -> None:
    await result
