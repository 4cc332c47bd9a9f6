"""Presence and user attributes through the official Web SDK, both pinned versions
(scenarios/presence.js).

What an app sees for agora-protocol-2.md §6 and §12: subscribePresence answers the state
now, onPresenceStatusChange fires when the followed user's device logs in, publishes, logs
out (per device, with the subscription's expiry); getPresenceStatus,
getSubscribedPresenceList, unsubscribePresence; updateUserInfo (both forms) and
fetchUserInfoById; and the SDK codes: 1100 for a long description, 505 with presence
switched off, 17 (with the server's description) for 900/901. One server for the module,
fresh users per case; the ``solo`` app has presence switched off.
"""

from __future__ import annotations

import pytest

from tests.websdk.test_websdk import (  # noqa: F401
    CHAT_APP,
    SDKS,
    SOLO_APP,
    Lane,
    lane,
    node_ready,
)

pytestmark = pytest.mark.websdk


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("case", ["follow", "err_too_long", "user_info", "err_user_info"])
def test_presence(lane: Lane, sdk: str, case: str) -> None:  # noqa: F811
    users = lane.users(CHAT_APP, "alice", "bob")
    lane.run("presence", case, sdk, users=users)


@pytest.mark.parametrize("sdk", SDKS)
def test_presence_switched_off(lane: Lane, sdk: str) -> None:  # noqa: F811
    lane._rest(
        "PUT", "/acme/solo/settings", token=lane.apps[SOLO_APP].app_token, json={"presence": False}
    )
    users = lane.users(SOLO_APP, "alice", "bob")
    lane.run("presence", "err_disabled", sdk, app=SOLO_APP, users=users)
