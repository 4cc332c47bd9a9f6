"""The nodes of a cluster and where clients reach them (server discovery: the list behind
``/easemob/server.json``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

__all__ = ["NodeInfo", "NodeList"]


@dataclass(frozen=True, slots=True)
class NodeInfo:
    node: int
    url: str  # the public base URL of its REST API; msync is at ws[s]://same/websocket

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme or "http"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)


class NodeList(Protocol):
    async def live(self) -> list[NodeInfo]:
        """The nodes whose lease is current, lowest node id first."""
        ...
