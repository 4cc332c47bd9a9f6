"""Server discovery: the ``/easemob/server.json`` document a cluster serves (what the
official Web SDK fetches when ``isHttpDNS`` is on), turned into a list of nodes to try.

A document lists one ``rest`` and one ``msync-wx`` host per live node, in the order the
server prefers. Only hosts of the discovery URL's own protocol are used (the Web SDK does
the same with its ``https`` flag), so a document fetched over https never sends the client
to plain http or ws. Any way of not getting a usable list — refused, timed out, non-200,
not JSON, no hosts — is ``SERVER_GET_DNSLIST_FAILED``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from kibitz.protocol import ChatError, ErrorCode

__all__ = [
    "NODE_FAILURES",
    "ServerNode",
    "discovery_request_url",
    "fetch_nodes",
    "first_working",
    "parse_document",
]

log = logging.getLogger("kibitz.sdk")

DEFAULT_PORTS: Final = {"http": "80", "https": "443"}
MAX_DOCUMENT_BYTES: Final = 1024 * 1024
# Failures of one node rather than of the request: with more nodes listed, try the next.
NODE_FAILURES: Final = frozenset(
    {
        ErrorCode.NETWORK_ERROR,
        ErrorCode.SERVER_NOT_REACHABLE,
        ErrorCode.SERVER_TIMEOUT,
        ErrorCode.SERVER_BUSY,
        ErrorCode.SERVER_UNKNOWN_ERROR,
    }
)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ServerNode:
    """One node to connect to: its REST base URL and its msync WebSocket URL."""

    rest: str
    im: str


def discovery_request_url(url: str, app_key: str) -> str:
    """``url`` with ``app_key=`` set in its query (any other parameters kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "app_key"]
    query.append(("app_key", app_key))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _origin(host: Any, protocol: str) -> str | None:
    """``domain[:port]`` of a host entry of ``protocol``; ``None`` if unusable."""
    if not isinstance(host, dict) or host.get("protocol") != protocol:
        return None
    name = host.get("domain") or host.get("ip")
    if not isinstance(name, str) or not name or any(c in name for c in "/?#@ "):
        return None
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"  # an IPv6 literal
    port = host.get("port")
    port = str(port) if isinstance(port, str | int) and not isinstance(port, bool) else ""
    if port and (not port.isdigit() or not 0 < int(port) < 65536):
        return None
    return name if port in ("", DEFAULT_PORTS[protocol]) else f"{name}:{port}"


def _origins(doc: dict[str, Any], section: str, protocol: str) -> list[str]:
    hosts = doc.get(section, {}).get("hosts") if isinstance(doc.get(section), dict) else None
    if not isinstance(hosts, list):
        return []
    found = (_origin(h, protocol) for h in hosts)
    return list(dict.fromkeys(o for o in found if o is not None))  # in order, once each


def parse_document(doc: object, protocol: str) -> list[ServerNode]:
    """The nodes of a discovery document, in its order, for ``protocol`` (http/https).

    Nodes are the ``msync-wx`` hosts (what the client connects to); each one's REST base is
    the ``rest`` host of the same origin when listed, else the one at the same position,
    else the first. Raises ``SERVER_GET_DNSLIST_FAILED`` when either list is empty.
    """
    if protocol not in DEFAULT_PORTS:
        raise ValueError(f"protocol must be http or https, got {protocol!r}")
    if not isinstance(doc, dict):
        raise ChatError(ErrorCode.SERVER_GET_DNSLIST_FAILED, "the document is not an object")
    rest, msync = _origins(doc, "rest", protocol), _origins(doc, "msync-wx", protocol)
    if not rest or not msync:
        missing = "rest" if not rest else "msync-wx"
        raise ChatError(
            ErrorCode.SERVER_GET_DNSLIST_FAILED, f"the document lists no {protocol} {missing} hosts"
        )
    ws = "wss" if protocol == "https" else "ws"
    nodes = []
    for i, origin in enumerate(msync):
        base = origin if origin in rest else rest[i] if i < len(rest) else rest[0]
        nodes.append(ServerNode(f"{protocol}://{base}", f"{ws}://{origin}/websocket"))
    return nodes


async def _fetch_one(http: httpx.AsyncClient, url: str, app_key: str) -> list[ServerNode]:
    target = discovery_request_url(url, app_key)
    try:
        response = await http.get(target)
    except httpx.TimeoutException as exc:
        raise ChatError(ErrorCode.SERVER_GET_DNSLIST_FAILED, f"{url}: no answer") from exc
    except httpx.HTTPError as exc:
        raise ChatError(ErrorCode.SERVER_GET_DNSLIST_FAILED, f"{url}: {exc!r}") from exc
    if response.status_code != 200:
        raise ChatError(
            ErrorCode.SERVER_GET_DNSLIST_FAILED, f"{url} answered HTTP {response.status_code}"
        )
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise ChatError(ErrorCode.SERVER_GET_DNSLIST_FAILED, f"{url}: the document is too big")
    try:
        doc = response.json()
    except ValueError as exc:
        raise ChatError(ErrorCode.SERVER_GET_DNSLIST_FAILED, f"{url}: not JSON") from exc
    return parse_document(doc, urlsplit(url).scheme)


async def fetch_nodes(
    urls: Sequence[str], app_key: str, per_url_timeout: float
) -> list[ServerNode]:
    """The nodes of the first URL of ``urls`` that gives a usable document.

    Each URL gets ``per_url_timeout`` seconds; raises ``SERVER_GET_DNSLIST_FAILED`` (naming every
    URL's failure) when none does.
    """
    failures: list[str] = []
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(per_url_timeout),
        headers={"Accept": "application/json"},
        follow_redirects=False,
    ) as http:
        for url in urls:
            try:
                return await _fetch_one(http, url, app_key)
            except ChatError as exc:
                failures.append(exc.description or url)
    raise ChatError(ErrorCode.SERVER_GET_DNSLIST_FAILED, "; ".join(failures) or "no URL")


async def first_working(
    nodes: Sequence[ServerNode], attempt: Callable[[ServerNode], Awaitable[T]]
) -> tuple[T, ServerNode]:
    """``attempt`` on each node in turn until one succeeds; returns its result and node.

    A ``NODE_FAILURES`` error moves on to the next node; any other error (a wrong
    password, a kick) is the answer and is raised, as is the last node's failure.
    """
    if not nodes:
        raise ChatError(ErrorCode.SERVER_GET_DNSLIST_FAILED, "no nodes to connect to")
    for node in nodes[:-1]:
        try:
            return await attempt(node), node
        except ChatError as exc:
            if exc.code not in NODE_FAILURES:
                raise
            log.info("node %s failed (%s); trying the next one", node.im, exc)
    return await attempt(nodes[-1]), nodes[-1]
