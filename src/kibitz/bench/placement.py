"""Which node each session and each REST send goes to, so that traffic crosses nodes.

With one node every function here answers node 0 and the run is what it always was. With N
nodes a 1:1 pair never shares a node (pair i: sender on i % N, receiver on (i + 1) % N),
receivers and logins go round-robin, and REST fan-out sends alternate over the nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

__all__ = [
    "default_ws",
    "node_urls",
    "pair_nodes",
    "pair_placement",
    "parse_cpus",
    "rest_node",
    "round_robin",
]


def pair_nodes(pair: int, nodes: int) -> tuple[int, int]:
    """(sender node, receiver node) of pair ``pair``: different nodes whenever N > 1."""
    return pair % nodes, (pair + 1) % nodes


def pair_placement(pairs: Sequence[tuple[int, str, int, str]], nodes: int) -> dict[int, int]:
    """user index → node for (sender, _, receiver, _) pairs, pair by pair."""
    out: dict[int, int] = {}
    for i, (a, _, b, _) in enumerate(pairs):
        out[a], out[b] = pair_nodes(i, nodes)
    return out


def round_robin(users: Sequence[int], nodes: int) -> dict[int, int]:
    """user index → node, the k-th user on node k % N."""
    return {u: k % nodes for k, u in enumerate(users)}


def rest_node(send: int, nodes: int) -> int:
    """The node whose REST base takes the ``send``-th fan-out send."""
    return send % nodes


def default_ws(rest: str) -> str:
    """The msync WebSocket URL of a node given its REST base (same host and port)."""
    url = urlsplit(rest)
    scheme = "wss" if url.scheme == "https" else "ws"
    return f"{scheme}://{url.netloc}/websocket"


def node_urls(rests: Sequence[str], ims: Sequence[str]) -> list[tuple[str, str]]:
    """(REST base, WebSocket URL) per node: ``--im-server`` paired with ``--rest-server`` by
    position, or derived from it when none is given."""
    if ims and len(ims) != len(rests):
        raise ValueError(
            f"{len(rests)} --rest-server but {len(ims)} --im-server: give one --im-server per "
            "--rest-server (paired by position), or none to derive them"
        )
    bases = [r.rstrip("/") for r in rests]
    return [(r, ims[i] if ims else default_ws(r)) for i, r in enumerate(bases)]


def parse_cpus(text: str) -> tuple[int, ...]:
    """``"0,1"`` → (0, 1); one CPU number per node."""
    try:
        cpus = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"{text!r} is not a comma-separated list of CPU numbers") from None
    if any(c < 0 for c in cpus):
        raise ValueError("a CPU number is >= 0")
    return cpus
