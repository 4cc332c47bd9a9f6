"""Contacts and block lists through the official Web SDK, both pinned versions
(scenarios/contacts.js).

What an app using the SDK sees for agora-protocol-2.md §5–§6: requests, answers and deletes
with the event each side (and the actor's other devices) gets, a request waiting for a later
login, the three contact lists and remarks, the block list and the send it refuses, and the
SDK code of every refusal (§1.5, §2.5). One server for the module (the ``lane`` fixture of
test_websdk.py, imported so pytest gives this module its own), fresh users per case; the
cases that change the app's settings put them back.
"""

from __future__ import annotations

import pytest

from tests.websdk.test_websdk import CHAT_APP, SDKS, Lane, lane, node_ready  # noqa: F401

pytestmark = pytest.mark.websdk


CASES = [
    "request_accept",
    "decline",
    "delete",
    "offline_request",
    "lists",
    "blocklist",
    "err_request",
    "err_limits",
    "err_remark",
    "err_contacts_only",
    "err_blocklist_full",
]


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("case", CASES)
def test_contacts(lane: Lane, sdk: str, case: str) -> None:  # noqa: F811
    users = lane.users(CHAT_APP, "alice", "bob", "carol")
    lane.run("contacts", case, sdk, users=users)
