"""The cluster lane: real ``kibitz serve`` nodes on one PostgreSQL database and one Redis.

Needs KIBITZ_TEST_DATABASE_URL (a PostgreSQL server; the lane makes a database of its own
there) and KIBITZ_TEST_REDIS_URL; ``.ci/run`` sets both where the services answer, and the
lane skips with the reason otherwise. One cluster serves a whole test module.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer

PG_URL = os.environ.get("KIBITZ_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("KIBITZ_TEST_REDIS_URL")
LEASE_TTL_S = 3.0  # short, so the node-loss tests are quick; production default is 15 s


def unavailable() -> str | None:
    if not PG_URL:
        return "PostgreSQL not configured (set KIBITZ_TEST_DATABASE_URL; .ci/run does)"
    if not REDIS_URL:
        return "Redis not configured (set KIBITZ_TEST_REDIS_URL; .ci/run does)"
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:
        return f"Redis at {REDIS_URL} does not answer: {exc}"
    return None


def admin_db(sql: str) -> None:
    import asyncio

    import asyncpg

    assert PG_URL is not None

    async def run() -> None:
        conn = await asyncpg.connect(PG_URL, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@dataclass
class Cluster:
    """Nodes sharing one database and one Redis prefix; ``nodes[i].rest`` / ``.ws``."""

    root: Path
    database_url: str
    env: dict[str, str]
    db_name: str = ""
    nodes: list[LiveServer] = field(default_factory=list)
    app: dict[str, Any] = field(default_factory=dict)
    app_token: str = ""

    def add_node(self) -> LiveServer:
        i = len(self.nodes)
        node = LiveServer(data_dir=self.root / f"node{i}", database_url=self.database_url)
        node.data_dir.mkdir(parents=True, exist_ok=True)
        node.env = {**self.env, "KIBITZ_PUBLIC_URL": f"http://127.0.0.1:{node.port}"}
        self.nodes.append(node)
        node.start()
        return node

    def rest(
        self, node: int, method: str, path: str, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.app_token}"}
        return httpx.request(
            method, f"{self.nodes[node].rest}{path}", headers=headers, timeout=10, **kw
        )

    def new_app(self, name: str, **opts: str) -> str:
        """Create app ``acme#name`` (through node 0's CLI); its app token."""
        created = self.nodes[0].create_app("acme", name, **opts)
        reply = self.rest(
            0,
            "POST",
            f"/acme/{name}/token",
            json={
                "grant_type": "client_credentials",
                "client_id": created["client_id"],
                "client_secret": created["client_secret"],
            },
        )
        assert reply.status_code == 200, reply.text
        return str(reply.json()["access_token"])

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def make_cluster(root: Path, size: int, **settings: str) -> Cluster:
    reason = unavailable()
    if reason:
        pytest.skip(f"cluster lane: {reason}")
    assert PG_URL is not None and REDIS_URL is not None
    name = f"kibitz_cluster_{uuid.uuid4().hex[:10]}"
    admin_db(f"CREATE DATABASE {name}")
    base = PG_URL.rsplit("/", 1)[0]
    env = {
        "KIBITZ_REDIS_URL": REDIS_URL,
        "KIBITZ_REDIS_PREFIX": f"kibitz-cluster-{uuid.uuid4().hex[:8]}:",
        "KIBITZ_LEASE_TTL_S": str(LEASE_TTL_S),
        **{f"KIBITZ_{k.upper()}": v for k, v in settings.items()},
    }
    cluster = Cluster(root, f"{base}/{name}", env, db_name=name)
    first = cluster.add_node()
    cluster.app = first.create_app("acme", "chat")
    for _ in range(size - 1):
        cluster.add_node()
    token = httpx.post(
        f"{first.rest}/acme/chat/token",
        json={
            "grant_type": "client_credentials",
            "client_id": cluster.app["client_id"],
            "client_secret": cluster.app["client_secret"],
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    cluster.app_token = token.json()["access_token"]
    return cluster


def drop_cluster(cluster: Cluster) -> None:
    cluster.stop()
    admin_db(f"DROP DATABASE IF EXISTS {cluster.db_name} WITH (FORCE)")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    made = make_cluster(tmp_path_factory.mktemp("cluster"), 2)
    yield made
    drop_cluster(made)
