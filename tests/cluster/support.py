"""Helpers of the cluster lane: users, tokens and msync clients on a chosen node."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from kibitz.protocol._msync import pb
from tests.server.transport.msync.client import MsyncClient

from .conftest import Cluster

_serial = itertools.count(1)


def users(cluster: Cluster, *roles: str, app: str = "chat") -> dict[str, str]:
    """Fresh users (password "pw"), role → username, registered through node 0."""
    n = next(_serial)
    made = {r: f"{r}{n}" for r in roles}
    reply = cluster.rest(
        0,
        "POST",
        f"/acme/{app}/users",
        json=[{"username": u, "password": "pw"} for u in made.values()],
    )
    assert reply.status_code == 200, reply.text
    return made


def token(cluster: Cluster, node: int, username: str, app: str = "chat") -> str:
    reply = httpx.post(
        f"{cluster.nodes[node].rest}/acme/{app}/token",
        json={"grant_type": "password", "username": username, "password": "pw"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


@asynccontextmanager
async def client(
    cluster: Cluster, node: int, username: str, resource: str, app: str = "chat"
) -> AsyncIterator[MsyncClient]:
    c = await MsyncClient.open(cluster.nodes[node].ws, f"acme#{app}")
    try:
        await c.login(username, token(cluster, node, username, app), resource)
        yield c
    finally:
        await c.close()


def texts(metas: list[pb.Meta]) -> list[str]:
    out = []
    for m in metas:
        body = pb.MessageBody()
        body.ParseFromString(m.payload)
        out.append(body.contents[0].text)
    return out
