"""An operator's controls hold on every node at once: an app's settings changed through
node 0 bite on node 1, a ban made on node 0 closes the app's sessions on node 1 and
refuses its logins there, and a route's REST rate counts the calls of both nodes."""

from __future__ import annotations

import pytest

from kibitz.protocol._msync import pb
from tests.server.transport.msync.client import MsyncClient

from .conftest import Cluster
from .support import client, token

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def users(cluster: Cluster, admin: str, app: str, *names: str) -> dict[str, str]:
    body = [{"username": n, "password": "pw"} for n in names]
    reply = cluster.rest(0, "POST", f"/acme/{app}/users", token=admin, json=body)
    assert reply.status_code == 200, reply.text
    return {n: n for n in names}


async def test_settings_and_a_ban_hold_on_the_other_node(cluster: Cluster) -> None:
    admin = cluster.new_app("ctl")
    u = users(cluster, admin, "ctl", "alice", "bob")
    async with client(cluster, 1, u["alice"], "web", app="ctl") as alice:
        changed = cluster.rest(
            0, "PUT", "/acme/ctl/settings", token=admin, json={"message_rate_per_user": 1}
        )
        assert changed.status_code == 200, changed.text
        sent = [(await alice.send_text(u["bob"], f"m{n}")).status for n in range(3)]
        assert [s.error_code for s in sent[:2]] == [pb.Status.OK, pb.Status.OK]
        assert (sent[2].error_code, sent[2].reason) == (
            pb.Status.PERMISSION_DENIED,
            "traffic limit",
        )
        seen_on_1 = cluster.rest(1, "GET", "/acme/ctl/settings", token=admin).json()["data"]
        assert seen_on_1["message_rate_per_user"] == 1

        bob_token = token(cluster, 1, u["bob"], app="ctl")
        assert cluster.rest(0, "POST", "/acme/ctl/disable", token=admin).status_code == 200
        assert await alice.closed() == 1001
        fresh = await MsyncClient.open(cluster.nodes[1].ws, "acme#ctl")
        try:
            refused = await fresh.provision(u["bob"], bob_token, "web")
        finally:
            await fresh.close()
        assert refused.status.error_code == pb.Status.IM_FORBIDDEN
        assert cluster.rest(1, "GET", f"/acme/ctl/users/{u['bob']}", token=admin).status_code == 403
        assert cluster.rest(1, "POST", "/acme/ctl/enable", token=admin).status_code == 200
        assert cluster.rest(0, "GET", f"/acme/ctl/users/{u['bob']}", token=admin).status_code == 200


async def test_a_routes_rest_rate_counts_every_nodes_calls(cluster: Cluster) -> None:
    admin = cluster.new_app("rl")
    users(cluster, admin, "rl", "carol")
    set_rate = cluster.rest(0, "PUT", "/acme/rl/settings", token=admin, json={"rest_rate_per_s": 2})
    assert set_rate.status_code == 200
    statuses = [
        cluster.rest(n % 2, "GET", "/acme/rl/users?limit=1", token=admin).status_code
        for n in range(12)
    ]
    # 2/s in two-second windows: at most 4 a window (the calls may straddle two windows).
    assert statuses.count(200) <= 8 and 429 in statuses, statuses
