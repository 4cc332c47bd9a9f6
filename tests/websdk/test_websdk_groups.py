"""Groups through the official Web SDK, both pinned versions (scenarios/groups.js).

What an app using the SDK sees for agora-protocol-2.md §3: the create calls and the
onGroupEvent each member gets, group messages over msync (members online and offline, the
sender's other device, never the sending session), details and lists, management calls and
their events, and the SDK error codes of §1.5 / §2.5. One server for the module (the
``lane`` fixture of test_websdk.py, imported so pytest gives this module its own), fresh
users per case. Cases the server gets wrong are ``xfail(strict=True)`` with the defect as
the reason, so the fix flips them.
"""

from __future__ import annotations

import pytest

from tests.websdk.test_websdk import CHAT_APP, SDKS, Lane, lane, node_ready  # noqa: F401

pytestmark = pytest.mark.websdk


def _defect(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=reason)


QUEUE_NAME_COLLISION = _defect(
    "server: a group's events are filed in each user's queue {id}@easemob.com and its "
    "messages in {id}@conference.easemob.com; the SDK keeps pending queues by name only "
    "(agora-protocol-2.md §2.6), so a NOTICE for one while the other is being pulled is "
    "dropped and that event or message waits for the next UNREAD (≥ 30 s)"
)
NO_JOINED_WITH_ROLE = _defect(
    "server: GET /chatgroups/user/{me}?pagenum&pagesize&needAffiliations&needRole "
    "(getJoinedGroups with needAffiliations/needRole, agora-protocol-2.md §3.2) is not "
    "routed: 404 service_resource_not_found → SDK type 17 instead of uri + entities[]"
)
JOIN_TWICE_NOT_601 = _defect(
    "server: joinGroup by a member answers 403 'X is already in group G' → SDK 603; "
    "601 needs a description containing both 'invite users to join group failed' and "
    "'already in group' (agora-protocol-2.md §1.5)"
)

CASES = [
    "create",
    "message",
    pytest.param("message_right_after_event", marks=QUEUE_NAME_COLLISION),
    "info",
    "joined",
    pytest.param("joined_with_role", marks=NO_JOINED_WITH_ROLE),
    "manage",
    "membership",
    "err_send",
    pytest.param("err_join_twice", marks=JOIN_TWICE_NOT_601),
    "err_member_removes",
    "err_destroyed_info",
]


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("case", CASES)
def test_group(lane: Lane, sdk: str, case: str) -> None:  # noqa: F811
    users = lane.users(CHAT_APP, "alice", "bob", "carol", "dave")
    lane.run("groups", case, sdk, users=users)
