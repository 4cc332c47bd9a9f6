"""An app's limits through the official Web SDK, both pinned versions (scenarios/limits.js):
the message rate (509) and a route's REST rate (500 SERVER_BUSY). Its own server (the
``lane`` fixture imported so pytest gives this module its own): the cases change the
app's settings."""

from __future__ import annotations

import pytest

from tests.websdk.test_websdk import CHAT_APP, SDKS, Lane, lane, node_ready  # noqa: F401

pytestmark = pytest.mark.websdk


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("case", ["message_rate", "rest_rate"])
def test_limits(lane: Lane, sdk: str, case: str) -> None:  # noqa: F811
    lane.run("limits", case, sdk, users=lane.users(CHAT_APP, "alice", "bob"))
