"""``ChatOptions`` (how to reach the server) and ``ConnectionState`` (where a client is)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from kibitz.protocol import ChatError, ErrorCode

__all__ = ["ChatOptions", "ConnectionState", "check_transition"]


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """Everything a ``ChatClient`` needs to know before it logs in.

    Args:
        app_key: ``"org#app"``.
        rest_server: Base URL of the REST API, e.g. ``"http://127.0.0.1:5280"``.
        im_server: The msync WebSocket URL, e.g. ``"ws://127.0.0.1:5280/websocket"``.
        discovery_urls: Instead of ``rest_server``/``im_server`` (leave those empty): the
            cluster's ``/easemob/server.json`` URL(s). The client fetches the node list at
            login and before every reconnect, trying the URLs in order (see
            ``ChatOptions.for_discovery``).
        request_timeout: Seconds to wait for any answer (a send ack, a REST call, a login
            step); past it the call raises ``ChatError(SERVER_TIMEOUT)``.
        connect_timeout: Seconds to open the WebSocket and complete the login handshake.
        auto_reconnect: Reconnect (and sync what was missed) when the connection drops.
        reconnect_base_delay: First backoff delay in seconds; doubles per attempt.
        reconnect_max_delay: Cap of the backoff delay.
        max_reconnect_attempts: Give up (``on_logged_out(SERVER_NOT_REACHABLE)``) after
            this many failed attempts; ``None`` retries for ever.
        heartbeat_interval: Seconds without traffic before the client probes the server.
        event_queue_size: Bound of the event queues (listeners and ``events()``).
        resource: This device's resource name; the server assigns one when ``None``.
        device_name: Shown to the server as the device name.

    Example:
        >>> opts = ChatOptions.for_server("http://127.0.0.1:5280", "acme#chat")
        >>> opts.im_server
        'ws://127.0.0.1:5280/websocket'
    """

    app_key: str
    rest_server: str = ""
    im_server: str = ""
    request_timeout: float = 30.0
    connect_timeout: float = 10.0
    auto_reconnect: bool = True
    reconnect_base_delay: float = 1.0
    reconnect_max_delay: float = 30.0
    max_reconnect_attempts: int | None = None
    heartbeat_interval: float = 30.0
    event_queue_size: int = 1024
    resource: str | None = None
    device_name: str = "kibitz-python"
    discovery_urls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        org, sep, app = self.app_key.partition("#")
        if not (sep and org and app) or "#" in app or any(c.isspace() for c in self.app_key):
            raise ChatError(ErrorCode.INVALID_APP_KEY, f"{self.app_key!r} is not 'org#app'")
        if isinstance(self.discovery_urls, str):  # one URL, not a tuple of its characters
            object.__setattr__(self, "discovery_urls", (self.discovery_urls,))
        else:
            object.__setattr__(self, "discovery_urls", tuple(self.discovery_urls))
        if self.discovery_urls:
            self._check_discovery()
        else:
            if urlsplit(self.rest_server).scheme not in ("http", "https"):
                raise ValueError(f"rest_server must be an http(s) URL, got {self.rest_server!r}")
            if urlsplit(self.im_server).scheme not in ("ws", "wss"):
                raise ValueError(f"im_server must be a ws(s) URL, got {self.im_server!r}")
        for name in ("request_timeout", "connect_timeout", "heartbeat_interval"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.event_queue_size < 1:
            raise ValueError("event_queue_size must be at least 1")

    @classmethod
    def for_server(cls, url: str, app_key: str, **options: object) -> ChatOptions:
        """Options for a kibitz server at ``url`` (REST there, msync at ``/websocket``)."""
        parts = urlsplit(url.rstrip("/"))
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        im = urlunsplit((ws_scheme, parts.netloc, parts.path + "/websocket", "", ""))
        return cls(app_key, url.rstrip("/"), im, **options)  # type: ignore[arg-type]

    @classmethod
    def for_discovery(
        cls, url: str | Sequence[str], app_key: str, **options: object
    ) -> ChatOptions:
        """Options for a cluster whose nodes are listed at ``url`` (its
        ``/easemob/server.json``; a list of URLs is tried in order).

        Example:
            >>> opts = ChatOptions.for_discovery(
            ...     "http://127.0.0.1:5280/easemob/server.json", "acme#chat")
            >>> opts.discovery_urls
            ('http://127.0.0.1:5280/easemob/server.json',)
        """
        urls = (url,) if isinstance(url, str) else tuple(url)
        return cls(app_key, discovery_urls=urls, **options)  # type: ignore[arg-type]

    def _check_discovery(self) -> None:
        if self.rest_server or self.im_server:
            raise ValueError("give either discovery_urls or rest_server/im_server, not both")
        for url in self.discovery_urls:
            parts = urlsplit(url) if isinstance(url, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"discovery URLs must be http(s) URLs, got {url!r}")

    @property
    def org_name(self) -> str:
        return self.app_key.partition("#")[0]

    @property
    def app_name(self) -> str:
        return self.app_key.partition("#")[2]


class ConnectionState(StrEnum):
    """The life of a ``ChatClient``; only the transitions in ``TRANSITIONS`` happen.

    ``LOGGED_OUT → CONNECTING → CONNECTED ⇄ RECONNECTING``, and back to ``LOGGED_OUT``
    from any of them (logout, kick, failed login, expired token, reconnect given up).
    """

    LOGGED_OUT = "logged_out"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"


TRANSITIONS: Final[dict[ConnectionState, frozenset[ConnectionState]]] = {
    ConnectionState.LOGGED_OUT: frozenset({ConnectionState.CONNECTING}),
    ConnectionState.CONNECTING: frozenset({ConnectionState.CONNECTED, ConnectionState.LOGGED_OUT}),
    ConnectionState.CONNECTED: frozenset(
        {ConnectionState.RECONNECTING, ConnectionState.LOGGED_OUT}
    ),
    ConnectionState.RECONNECTING: frozenset(
        {ConnectionState.CONNECTED, ConnectionState.LOGGED_OUT}
    ),
}


def check_transition(old: ConnectionState, new: ConnectionState) -> None:
    """Raise ``RuntimeError`` for a transition the state machine does not have (a bug)."""
    if new not in TRANSITIONS[old]:
        raise RuntimeError(f"illegal client state transition {old} → {new}")
