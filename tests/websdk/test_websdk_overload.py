"""Load shedding through the official Web SDK, both pinned versions (scenarios/overload.js):
a server whose writer may hold no queued write sheds part of a burst of sends — each fails
at once with the SDK's 503, none hangs — accepts the rest, and serves again after. Its own
server, started with that bound."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer
from tests.websdk.test_websdk import CHAT_APP, SDKS, Lane, _start_lane, node_ready  # noqa: F401

pytestmark = pytest.mark.websdk


@pytest.fixture(scope="module")
def shedding_lane(node_ready: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:  # noqa: F811
    data_dir = tmp_path_factory.mktemp("websdk-overload")
    server = LiveServer(
        data_dir=data_dir, database_url=None, env={"KIBITZ_OVERLOAD_QUEUE_JOBS": "0"}
    )
    try:
        yield _start_lane(node_ready, server)
    finally:
        server.stop()


@pytest.mark.parametrize("sdk", SDKS)
def test_a_burst_is_partly_shed_and_never_hangs(shedding_lane: Lane, sdk: str) -> None:
    lane = shedding_lane
    result = lane.run("overload", "burst", sdk, users=lane.users(CHAT_APP, "alice", "bob"))
    assert result["shed"] > 0 and result["acked"] > 0, result
