"""A banned app through the official Web SDK, both pinned versions (scenarios/app_ban.js):
the online session is disconnected, logins are refused with the SDK's 57, and enabling
the app restores them. Its own server (the ``lane`` fixture imported so pytest gives this
module its own), since a ban would disturb the other modules' cases; the one-device app."""

from __future__ import annotations

import pytest

from tests.websdk.test_websdk import SDKS, SOLO_APP, Lane, lane, node_ready  # noqa: F401

pytestmark = pytest.mark.websdk


@pytest.mark.parametrize("sdk", SDKS)
def test_a_banned_app(lane: Lane, sdk: str) -> None:  # noqa: F811
    users = lane.users(SOLO_APP, "alice")
    result = lane.run("app_ban", "banned", sdk, app=SOLO_APP, users=users)
    # The online session's reconnects and a token login: 57 "Server serving disabled.";
    # a password login fails at its token request (403), which the SDK reports as type 1.
    assert result["seen"]["type"] == 57 and result["byToken"]["type"] == 57, result
    assert result["byPassword"]["type"] == 1, result
