"""``ChatClient``: login, the connection's life (reconnect, token timers), logout.

The client owns every task it starts — the reader/supervisor of the connection, the token
timer and the event dispatcher — and cancels them when the session ends, so nothing
outlives ``logout()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import pb

from ._chat import ChatManager
from ._connection import (
    CLOSE_TIMEOUT_S,
    Login,
    MsyncConnection,
    ProvisionReply,
    new_device_uuid,
    new_resource,
)
from ._contacts import ContactManager
from ._discovery import ServerNode, fetch_nodes, first_working
from ._files import download_file, upload_attachment
from ._group_files import GroupFileManager
from ._groups import GroupManager
from ._listeners import (
    ChatEvent,
    Connected,
    Disconnected,
    Dispatcher,
    EventStream,
    LoggedOut,
    TokenExpired,
    TokenWillExpire,
)
from ._message import ChatMessage
from ._options import ChatOptions, ConnectionState, check_transition
from ._presence import PresenceManager
from ._rest import GrantedToken, RestClient
from ._user_info import UserInfoManager

__all__ = ["ChatClient", "backoff_delay"]

# What a refused anonymous registration comes back as (401: registration is closed; 403):
# the SDK's USER_REG_FAILED, as Agora's createAccount reports it.
_REGISTRATION_REFUSED: Final = (
    ErrorCode.USER_AUTHENTICATION_FAILED,
    ErrorCode.USER_PERMISSION_DENIED,
    ErrorCode.INVALID_TOKEN,
)

log = logging.getLogger("kibitz.sdk")

USERNAME_RE: Final = re.compile(r"^(?!\.+\Z)[a-z0-9_.-]{1,64}\Z")  # Agora's rule; never only dots
RETRYABLE: Final = frozenset(
    {
        ErrorCode.NETWORK_ERROR,
        ErrorCode.SERVER_NOT_REACHABLE,
        ErrorCode.SERVER_TIMEOUT,
        ErrorCode.SERVER_BUSY,
        ErrorCode.SERVER_UNKNOWN_ERROR,
        ErrorCode.USER_LOGIN_TOO_MANY_DEVICES,  # our old session may linger a moment
    }
)
S = ConnectionState


def backoff_delay(attempt: int, base: float, cap: float, rnd: Callable[[], float]) -> float:
    """Exponential backoff with equal jitter: a delay in [c/2, c], c = min(cap, base·2ⁿ)."""
    ceiling = min(cap, base * float(2 ** min(attempt, 30)))
    return ceiling / 2 + rnd() * ceiling / 2


def _wall_ms() -> int:
    return int(time.time() * 1000)


class ChatClient:
    """An Agora Chat client for kibitz, speaking msync over WebSocket like the Web SDK.

    ``client.chat`` sends and receives messages; ``client.groups`` manages groups and
    delivers group events.

    Args:
        options: Where the server is and how to behave (``ChatOptions``).
        sleep: Injected ``asyncio.sleep`` (backoff and token timers), for tests.
        now_ms: Injected wall clock in milliseconds, for tests.
        random: Injected ``random.random`` (backoff jitter), for tests.

    Example:
        >>> client = ChatClient(ChatOptions.for_server("http://127.0.0.1:5280", "acme#chat"))
        >>> await client.login("alice", password="pw")  # doctest: +SKIP
        >>> await client.chat.send_message(ChatMessage.text("bob", "hi"))  # doctest: +SKIP
        >>> await client.logout()  # doctest: +SKIP
    """

    def __init__(
        self,
        options: ChatOptions,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now_ms: Callable[[], int] = _wall_ms,
        random: Callable[[], float] = random.random,
    ) -> None:
        self.options = options
        self._sleep = sleep
        self._now_ms = now_ms
        self._random = random
        self._state = S.LOGGED_OUT
        self._dispatcher = Dispatcher(options.event_queue_size)
        self.chat = ChatManager(self, self._dispatcher, now_ms)
        self.groups = GroupManager(self, self._dispatcher)
        self.contacts = ContactManager(self, self._dispatcher)
        self.presence = PresenceManager(self, self._dispatcher)
        self.user_info = UserInfoManager(self)
        self.group_files = GroupFileManager(self)  # a group's shared files
        self._lock = asyncio.Lock()
        self._connected = asyncio.Event()
        self._conn: MsyncConnection | None = None
        self._rest: RestClient | None = None
        self._login: Login | None = None
        self._node: ServerNode | None = None
        self._expires_at_ms: int | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    # -- public state ------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def current_user(self) -> str | None:
        """The logged-in username (also while reconnecting), else ``None``."""
        return self._login.username if self._login and self._state is not S.LOGGED_OUT else None

    @property
    def resource(self) -> str | None:
        """This device's resource, as the server knows it."""
        return self._login.resource if self._login else None

    @property
    def server_node(self) -> ServerNode | None:
        """The node this session is on (the last one while reconnecting), else ``None``."""
        return self._node

    @property
    def token_expires_at_ms(self) -> int | None:
        return self._expires_at_ms

    def add_connection_listener(self, listener: object) -> None:
        """Register an object with any of the ``ConnectionListener`` methods."""
        if listener not in self._dispatcher.connection_listeners:
            self._dispatcher.connection_listeners.append(listener)

    def remove_connection_listener(self, listener: object) -> None:
        if listener in self._dispatcher.connection_listeners:
            self._dispatcher.connection_listeners.remove(listener)

    def events(self) -> EventStream:
        """All events of the session as an async iterator (bounded queue, back-pressure).

        Example:
            >>> async with client.events() as events:  # doctest: +SKIP
            ...     async for event in events:
            ...         if isinstance(event, MessagesReceived):
            ...             print(event.messages)
        """
        return self._dispatcher.subscribe()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.logout()

    # -- accounts ------------------------------------------------------------------------

    async def create_account(self, username: str, password: str) -> None:
        """Register ``username`` without an app credential, as Agora's ``createAccount``:
        only an app with open registration allows it.

        Raises:
            ChatError: ``USER_REG_FAILED`` when the server refuses the registration
                (registration is closed); ``USER_ALREADY_EXIST``, ``INVALID_USER_NAME``,
                ``INVALID_PASSWORD``; ``EXCEED_SERVICE_LIMIT`` past the app's user quota.
        """
        if not isinstance(username, str) or not USERNAME_RE.match(username):
            raise ChatError(ErrorCode.INVALID_USER_NAME, f"{username!r} is not a username")
        if not password:
            raise ChatError(ErrorCode.INVALID_PASSWORD, "the password is empty")
        nodes = await self._nodes()
        opts = self.options
        rest = RestClient(nodes[0].rest, opts.org_name, opts.app_name, opts.request_timeout)
        try:
            await rest.call("POST", "/users", json={"username": username, "password": password})
        except ChatError as exc:
            if exc.code in _REGISTRATION_REFUSED:
                raise ChatError(ErrorCode.USER_REG_FAILED, exc.description) from exc
            raise
        finally:
            await rest.aclose()

    # -- login / logout ------------------------------------------------------------------

    async def login(
        self, username: str, *, password: str | None = None, token: str | None = None
    ) -> None:
        """Log in with a password (exchanged over REST for a token) or a token (a kibitz
        access token or a ``007`` user token), then open the msync connection.

        Raises:
            ChatError: ``USER_ALREADY_LOGIN``, ``INVALID_USER_NAME``, ``INVALID_PASSWORD``,
                ``INVALID_TOKEN``, ``USER_AUTHENTICATION_FAILED`` (expired token),
                ``USER_NOT_FOUND``, ``USER_PERMISSION_DENIED`` (deactivated),
                ``USER_LOGIN_TOO_MANY_DEVICES``, ``INVALID_APP_KEY``,
                ``SERVER_NOT_REACHABLE``, ``SERVER_TIMEOUT``, ``NETWORK_ERROR``;
                ``SERVER_GET_DNSLIST_FAILED`` when the options use discovery and no
                discovery URL gives a usable node list.
        """
        async with self._lock:
            if self._state is not S.LOGGED_OUT:
                raise ChatError(ErrorCode.USER_ALREADY_LOGIN, "log out before logging in again")
            if (password is None) == (token is None):
                raise TypeError("login() takes exactly one of password= or token=")
            if not isinstance(username, str) or not USERNAME_RE.match(username):
                raise ChatError(ErrorCode.INVALID_USER_NAME, f"{username!r} is not a username")
            if password is not None and not password:
                raise ChatError(ErrorCode.INVALID_PASSWORD, "the password is empty")
            if token is not None and not token.strip():
                raise ChatError(ErrorCode.INVALID_TOKEN, "the token is empty")
            self._set_state(S.CONNECTING)
            try:
                nodes = await self._nodes()
            except BaseException:
                self._set_state(S.LOGGED_OUT)
                raise
            opts = self.options
            rest = RestClient(nodes[0].rest, opts.org_name, opts.app_name, opts.request_timeout)

            async def grant(node: ServerNode) -> GrantedToken:
                assert password is not None
                rest.rebase(node.rest)
                return await rest.password_grant(username, password)

            try:
                expires_at: int | None = None
                if password is not None:
                    granted, _ = await first_working(nodes, grant)
                    token = granted.access_token
                    if granted.expires_in_s:
                        expires_at = self._now_ms() + granted.expires_in_s * 1000
                assert token is not None
                login = Login(
                    opts.app_key,
                    username,
                    token,
                    opts.resource or new_resource(),
                    opts.device_name,
                    new_device_uuid(),
                )
                conn, reply, node = await self._open_first(nodes, login)
            except BaseException:
                await rest.aclose()
                self._set_state(S.LOGGED_OUT)
                raise
            rest.rebase(node.rest)
            self._rest, self._conn, self._login, self._node = rest, conn, conn.login, node
            self._set_state(S.CONNECTED)
            await self._dispatcher.emit(Connected())
            self._spawn("connection", self._supervise(conn))
            self._start_token_timer(reply.token_expires_at_ms or expires_at)

    async def logout(self) -> None:
        """End the session: close the connection and stop every task. Idempotent."""
        async with self._lock:
            await self._shutdown(None, logout=True)

    async def renew_token(self, token: str) -> None:
        """Replace the session's token (call it from ``on_token_will_expire``).

        Like the Web SDK, the new token is checked with the server
        (``GET /{org}/{app}/sdk/users/{me}/token/expires``) and used for later reconnects;
        the connection stays up.

        Raises:
            ChatError: ``USER_NOT_LOGIN``; ``INVALID_TOKEN`` / ``USER_AUTHENTICATION_FAILED``
                when the server refuses the new token (the old one stays in use).
        """
        async with self._lock:
            if self._state not in (S.CONNECTED, S.RECONNECTING) or self._rest is None:
                raise ChatError(ErrorCode.USER_NOT_LOGIN, "renew_token needs a session")
            if not token or not token.strip():
                raise ChatError(ErrorCode.INVALID_TOKEN, "the token is empty")
            assert self._login is not None
            expires_at = await self._rest.token_expiry_ms(self._login.username, token)
            self._login = replace(self._login, token=token)
            self._start_token_timer(expires_at)

    # -- internals -----------------------------------------------------------------------

    def _set_state(self, new: ConnectionState) -> None:
        check_transition(self._state, new)
        log.debug("state %s → %s", self._state, new)
        self._state = new
        if new is S.CONNECTED:
            self._connected.set()
        else:
            self._connected.clear()

    def _spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        old = self._tasks.get(name)
        if old is not None and not old.done():
            old.cancel()
        self._tasks[name] = asyncio.create_task(coro, name=f"kibitz-{name}")

    async def _nodes(self) -> list[ServerNode]:
        """Where to connect, in order of preference: the configured server, or the nodes
        the discovery document lists now (fetched anew each time, so dead nodes drop out).

        The client takes the nodes in the document's order — first listed first, as the
        Web SDK does — rather than rotating: the server builds the document per request,
        so it is the one place that balances load for every SDK alike, and a fixed order
        makes failover predictable. A node that fails is skipped for the next one.
        """
        opts = self.options
        if not opts.discovery_urls:
            return [ServerNode(opts.rest_server, opts.im_server)]
        return await fetch_nodes(opts.discovery_urls, opts.app_key, opts.request_timeout)

    async def _open_first(
        self, nodes: list[ServerNode], login: Login
    ) -> tuple[MsyncConnection, ProvisionReply, ServerNode]:
        """Log in at the first of ``nodes`` that takes the connection."""
        (conn, reply), node = await first_working(nodes, lambda n: self._open(n.im, login))
        return conn, reply, node

    async def _open(self, url: str, login: Login) -> tuple[MsyncConnection, ProvisionReply]:
        return await MsyncConnection.open(
            url,
            login,
            connect_timeout=self.options.connect_timeout,
            request_timeout=self.options.request_timeout,
            heartbeat_interval=self.options.heartbeat_interval,
            on_metas=self._on_metas,
        )

    async def _on_metas(self, metas: list[pb.Meta]) -> None:
        """A pulled batch, by namespace: group events to ``groups``, the rest to ``chat``."""
        notify = [m for m in metas if m.ns == pb.Meta.NOTIFY]
        if notify:  # presence events
            await self.presence._on_metas(notify)
            metas = [m for m in metas if m.ns != pb.Meta.NOTIFY]
        roster = [m for m in metas if m.ns == pb.Meta.ROSTER]
        if roster:  # contact events
            await self.contacts._on_metas(roster)
            metas = [m for m in metas if m.ns != pb.Meta.ROSTER]
        muc = [m for m in metas if m.ns == pb.Meta.MUC]
        if muc:
            await self.groups._on_metas(muc)
        if len(muc) < len(metas):
            await self.chat._on_metas([m for m in metas if m.ns != pb.Meta.MUC])

    # -- attachments (_files.py) ---------------------------------------------------------

    def _rest_login(self) -> tuple[RestClient, Login]:
        rest, login = self._rest, self._login
        if rest is None or login is None or self.current_user is None:
            raise ChatError(ErrorCode.USER_NOT_LOGIN, "log in first")
        return rest, login

    async def _upload(self, message: ChatMessage) -> ChatMessage:
        rest, login = self._rest_login()
        return await upload_attachment(rest, login.token, message, message.chat_type.value)

    async def download(
        self, message: ChatMessage, path: str | os.PathLike[str], *, thumbnail: bool = False
    ) -> Path:
        """Save the file of an image/voice/video/file message to ``path`` (``thumbnail``:
        its preview instead). Raises ``ChatError`` FILE_DOWNLOAD_FAILED (refused, broken),
        FILE_NOT_FOUND (unknown or expired on the server), USER_NOT_LOGIN.

        Example: ``await client.download(message, "cat.jpg")``.
        """
        rest, login = self._rest_login()
        return await download_file(rest, login.token, message.body, Path(path), thumbnail=thumbnail)

    async def _ready_connection(self) -> MsyncConnection:
        """The live connection; waits (bounded) while reconnecting."""
        if self._state is S.RECONNECTING:
            try:
                async with asyncio.timeout(self.options.request_timeout):
                    await self._connected.wait()
            except TimeoutError as exc:
                raise ChatError(ErrorCode.NETWORK_ERROR, "not connected (reconnecting)") from exc
        if self._state is not S.CONNECTED or self._conn is None:
            raise ChatError(ErrorCode.USER_NOT_LOGIN, "log in first")
        return self._conn

    async def _supervise(self, conn: MsyncConnection) -> None:
        """Own the connection: read it, and reconnect after a drop until the session ends."""
        current: MsyncConnection | None = conn
        while current is not None:
            with contextlib.suppress(ChatError):
                await current.start_sync()
            reason = await current.run()
            self._conn = None
            if reason is not ErrorCode.NETWORK_ERROR:  # kicked: the session is over
                await self._shutdown(LoggedOut(reason))
                return
            await self._dispatcher.emit(Disconnected(ErrorCode.NETWORK_ERROR))
            if not self.options.auto_reconnect:
                await self._shutdown(LoggedOut(ErrorCode.NETWORK_ERROR))
                return
            self._set_state(S.RECONNECTING)
            current = await self._reconnect()

    async def _reconnect(self) -> MsyncConnection | None:
        attempt = 0
        while True:
            limit = self.options.max_reconnect_attempts
            if limit is not None and attempt >= limit:
                await self._shutdown(LoggedOut(ErrorCode.SERVER_NOT_REACHABLE))
                return None
            opts = self.options
            await self._sleep(
                backoff_delay(
                    attempt, opts.reconnect_base_delay, opts.reconnect_max_delay, self._random
                )
            )
            attempt += 1
            assert self._login is not None
            try:
                conn, reply, node = await self._open_first(await self._nodes(), self._login)
            except ChatError as exc:
                if exc.code in RETRYABLE or exc.code is ErrorCode.SERVER_GET_DNSLIST_FAILED:
                    log.info("reconnect attempt %d failed: %s", attempt, exc)
                    continue
                await self._shutdown(LoggedOut(exc.code))
                return None
            self._adopt(conn, reply)
            self._node = node
            if self._rest is not None:
                self._rest.rebase(node.rest)
            await self._dispatcher.emit(Connected())
            return conn

    def _adopt(self, conn: MsyncConnection, reply: ProvisionReply) -> None:
        renewed = self._login is not None and self._login.token != conn.login.token
        token = self._login.token if renewed and self._login else conn.login.token
        self._conn, self._login = conn, replace(conn.login, token=token)
        self._set_state(S.CONNECTED)
        expiry = reply.token_expires_at_ms
        if not renewed and expiry and expiry != self._expires_at_ms:
            self._start_token_timer(expiry)

    def _start_token_timer(self, expires_at_ms: int | None) -> None:
        self._expires_at_ms = expires_at_ms
        if expires_at_ms is not None:
            self._spawn("token", self._token_timer(expires_at_ms))

    async def _token_timer(self, expires_at_ms: int) -> None:
        remaining_s = max(expires_at_ms - self._now_ms(), 0) / 1000
        if remaining_s > 0:
            await self._sleep(remaining_s / 2)
            await self._dispatcher.emit(TokenWillExpire())
            await self._sleep(remaining_s - remaining_s / 2)
        await self._shutdown(TokenExpired())

    async def _shutdown(self, final: ChatEvent | None, *, logout: bool = False) -> None:
        """End the session once: stop its tasks, close its connection, deliver ``final``.

        Everything is detached from ``self`` before the first await, so a new login that
        starts meanwhile never shares anything with the session being torn down.
        """
        if self._state is S.LOGGED_OUT:
            return
        self._set_state(S.LOGGED_OUT)
        tasks, self._tasks = self._tasks, {}
        conn, self._conn = self._conn, None
        rest, self._rest = self._rest, None
        self._node = None
        self._expires_at_ms = None
        me = asyncio.current_task()
        for task in tasks.values():
            if task is not me and not task.done():
                task.cancel()
        for task in tasks.values():
            if task is not me:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if conn is not None:
            await conn.close(logout=logout)
        if final is not None:
            await self._dispatcher.emit(final)
        await self._dispatcher.end_session()
        if logout:  # queued events still reach listeners, but a slow one cannot hang logout
            await self._dispatcher.finish(CLOSE_TIMEOUT_S)
        if rest is not None:
            await rest.aclose()
