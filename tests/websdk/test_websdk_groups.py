"""Groups through the official Web SDK, both pinned versions (scenarios/groups.js).

What an app using the SDK sees for agora-protocol-2.md §3: the create calls and the
onGroupEvent each member gets, group messages over msync (members online and offline, the
sender's other device, never the sending session), details and lists, management calls and
their events, and the SDK error codes of §1.5 / §2.5. One server for the module (the
``lane`` fixture of test_websdk.py, imported so pytest gives this module its own), fresh
users per case.
"""

from __future__ import annotations

import pytest

from tests.websdk.test_websdk import CHAT_APP, SDKS, Lane, lane, node_ready  # noqa: F401

pytestmark = pytest.mark.websdk


CASES = [
    "create",
    "message",
    "message_right_after_event",
    "info",
    "joined",
    "joined_with_role",
    "manage",
    "membership",
    "read_receipts",
    "global_mute",
    "apply",
    "invite",
    "mutes",
    "blocks",
    "announcement_attributes_shield",
    "err_send",
    "err_join_twice",
    "err_member_removes",
    "err_full_and_disabled",
    "err_destroyed_info",
]


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("case", CASES)
def test_group(lane: Lane, sdk: str, case: str) -> None:  # noqa: F811
    users = lane.users(CHAT_APP, "alice", "bob", "carol", "dave")
    lane.run("groups", case, sdk, users=users)
