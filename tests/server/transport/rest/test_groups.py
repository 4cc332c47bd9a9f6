"""Groups over REST, as an app's backend (app token) and as the Web SDK (the user's own
token) drive them: lifecycle, membership, roles, and the error each refusal must carry
for the SDK to report the right code (agora-protocol-2.md §1.5)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import AppHarness

from .support import ENVELOPE_KEYS, assert_error, bearer, register, user_token

pytestmark = pytest.mark.anyio


def assert_envelope(response: Any, h: AppHarness, action: str) -> dict[str, Any]:
    """Agora's success envelope (any path)."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert ENVELOPE_KEYS <= set(body), body
    assert body["action"] == action and body["application"] == h.app.id
    return body


async def _create(h: AppHarness, headers: dict[str, str] | None = None, **body: Any) -> str:
    payload = {"groupname": "friends", "owner": "alice", **body}
    response = await h.http.post(
        f"{h.base}/chatgroups", json=payload, headers=headers or h.admin_headers()
    )
    group_id: str = assert_envelope(response, h, "post")["data"]["groupid"]
    assert group_id.isdigit()
    return group_id


async def _details(h: AppHarness, group_id: str) -> dict[str, Any]:
    response = await h.http.get(f"{h.base}/chatgroups/{group_id}", headers=h.admin_headers())
    data: list[dict[str, Any]] = assert_envelope(response, h, "get")["data"]
    return data[0]


@pytest.fixture
async def users(harness: AppHarness) -> dict[str, dict[str, str]]:
    names = ("alice", "bob", "carol", "dave")
    await register(harness, *names)
    return {n: bearer(await user_token(harness, n)) for n in names}


async def test_create_and_read_a_group(harness: AppHarness, users: Any) -> None:
    h = harness
    group_id = await _create(
        h, members=["bob", "carol"], maxusers=50, desc="our corner", public=True, custom="x=1"
    )
    group = await _details(h, group_id)
    assert group["name"] == "friends" and group["description"] == "our corner"
    assert group["owner"] == "alice" and group["maxusers"] == 50 and group["public"] is True
    assert group["allowinvites"] is False  # forced off for a public group at creation
    assert group["affiliations_count"] == 3 and group["custom"] == "x=1"
    assert [next(iter(a)) for a in group["affiliations"]] == ["owner", "member", "member"]
    assert [a.get("owner") or a.get("member") for a in group["affiliations"]] == [
        "alice",
        "bob",
        "carol",
    ]


async def test_a_user_token_creates_a_group_it_owns(harness: AppHarness, users: Any) -> None:
    h = harness
    group_id = await _create(h, users["bob"], owner="alice")  # the token decides the owner
    assert (await _details(h, group_id))["owner"] == "bob"


async def test_join_an_open_public_group_once(harness: AppHarness, users: Any) -> None:
    h = harness
    group_id = await _create(h, public=True)
    url = f"{h.base}/chatgroups/{group_id}/apply"
    assert_envelope(await h.http.post(url, json={"message": ""}, headers=users["bob"]), h, "post")
    again = await h.http.post(url, json={"message": ""}, headers=users["bob"])
    assert_error(again, 403, "forbidden_op")
    joined = await h.http.get(
        f"{h.base}/chatgroups/{group_id}/user/bob/is_joined", headers=h.admin_headers()
    )
    assert assert_envelope(joined, h, "get")["data"] is True


async def test_a_private_group_cannot_be_joined_unasked(harness: AppHarness, users: Any) -> None:
    h = harness
    group_id = await _create(h)
    response = await h.http.post(
        f"{h.base}/chatgroups/{group_id}/apply", json={}, headers=users["bob"]
    )
    assert_error(response, 403, "forbidden_op")


async def test_a_full_group_says_so(harness: AppHarness, users: Any) -> None:
    h = harness
    group_id = await _create(h, maxusers=2, members=["bob"], public=True)
    response = await h.http.post(
        f"{h.base}/chatgroups/{group_id}/apply", json={}, headers=users["carol"]
    )
    body = assert_error(response, 403, "forbidden_op")
    assert body["error_description"] == "group member list is full!"


async def test_leave_and_the_owner_cannot(harness: AppHarness, users: Any) -> None:
    h = harness
    group_id = await _create(h, members=["bob"])
    url = f"{h.base}/chatgroups/{group_id}/quit"
    assert_error(await h.http.delete(url, headers=users["alice"]), 403, "forbidden_op")
    assert_envelope(await h.http.delete(url, headers=users["bob"]), h, "delete")
    again = assert_error(await h.http.delete(url, headers=users["bob"]), 403, "forbidden_op")
    assert "are not members of this group" in again["error_description"]


async def test_members_are_added_and_removed_by_admins_only(
    harness: AppHarness, users: Any
) -> None:
    h = harness
    group_id = await _create(h, members=["bob"])
    users_url = f"{h.base}/chatgroups/{group_id}/users"
    # a plain member may not remove anyone
    denied = await h.http.delete(f"{users_url}/bob", headers=users["bob"])
    assert_error(denied, 403, "forbidden_op")
    added = await h.http.post(
        users_url, json={"usernames": ["carol", "dave"]}, headers=users["alice"]
    )
    assert sorted(assert_envelope(added, h, "post")["data"]["newmembers"]) == ["carol", "dave"]
    removed = await h.http.delete(f"{users_url}/carol,dave", headers=h.admin_headers())
    items = assert_envelope(removed, h, "delete")["data"]
    assert [i["user"] for i in items] == ["carol", "dave"]
    listing = await h.http.get(
        users_url, params={"limit": 50, "cursor": "undefined"}, headers=users["bob"]
    )
    data = assert_envelope(listing, h, "get")["data"]
    assert [(next(iter(d)), d[next(iter(d))]) for d in data] == [
        ("owner", "alice"),
        ("member", "bob"),
    ]


async def test_admins_and_ownership(harness: AppHarness, users: Any) -> None:
    h = harness
    group_id = await _create(h, members=["bob", "carol"])
    admin_url = f"{h.base}/chatgroups/{group_id}/admin"
    # only the owner names admins
    refused = await h.http.post(admin_url, json={"newadmin": "carol"}, headers=users["bob"])
    assert_error(refused, 403, "forbidden_op")
    made = await h.http.post(admin_url, json={"newadmin": "bob"}, headers=users["alice"])
    assert assert_envelope(made, h, "post")["data"]["newadmin"] == "bob"
    listed = await h.http.get(admin_url, headers=users["carol"])
    assert assert_envelope(listed, h, "get")["data"] == ["bob"]
    # an admin removes a member now
    kick = await h.http.delete(f"{h.base}/chatgroups/{group_id}/users/carol", headers=users["bob"])
    assert assert_envelope(kick, h, "delete")["data"]["user"] == "carol"
    moved = await h.http.put(
        f"{h.base}/chatgroups/{group_id}", json={"newowner": "bob"}, headers=users["alice"]
    )
    assert assert_envelope(moved, h, "put")["data"] == {"newowner": True}
    assert (await _details(h, group_id))["owner"] == "bob"


async def test_modify_answers_per_field(harness: AppHarness, users: Any) -> None:
    h = harness
    group_id = await _create(h)
    response = await h.http.put(
        f"{h.base}/chatgroups/{group_id}",
        json={"groupname": "renamed", "description": "new", "maxusers": 300},
        headers=users["alice"],
    )
    answer = assert_envelope(response, h, "put")["data"]
    assert answer == {"groupname": True, "description": True, "maxusers": True}
    group = await _details(h, group_id)
    assert (group["name"], group["description"], group["maxusers"]) == ("renamed", "new", 300)
    denied = await h.http.put(
        f"{h.base}/chatgroups/{group_id}", json={"groupname": "x"}, headers=users["bob"]
    )
    assert_error(denied, 403, "forbidden_op")  # bob is not even a member


async def test_destroy_then_it_is_gone(harness: AppHarness, users: Any) -> None:
    h = harness
    group_id = await _create(h, members=["bob"])
    url = f"{h.base}/chatgroups/{group_id}"
    assert_error(await h.http.delete(url, headers=users["bob"]), 403, "forbidden_op")
    gone = assert_envelope(await h.http.delete(url, headers=users["alice"]), h, "delete")
    assert gone["data"]["success"] is True
    missing = assert_error(
        await h.http.get(url, headers=h.admin_headers()), 404, "resource_not_found"
    )
    assert "do not find this group" in missing["error_description"]


async def test_joined_groups_of_a_user(harness: AppHarness, users: Any) -> None:
    h = harness
    first = await _create(h, members=["bob"])
    second = await _create(h, owner="bob")
    url = f"{h.base}/users/bob/joined_chatgroups"
    response = await h.http.get(url, params={"pagenum": 1, "pagesize": 20}, headers=users["bob"])
    body = assert_envelope(response, h, "get")
    assert "joined_chatgroups" in body["uri"]
    assert [(g["groupid"], g["permission"]) for g in body["data"]] == [
        (first, "member"),
        (second, "owner"),
    ]
    other = await h.http.get(url, headers=users["carol"])
    assert_error(other, 401, "unauthorized")


async def test_listing_all_groups_pages_for_the_app(harness: AppHarness, users: Any) -> None:
    h = harness
    ids = [await _create(h, groupname=f"g{i}") for i in range(3)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await h.http.get(
            f"{h.base}/chatgroups", params=params, headers=h.admin_headers()
        )
        body = assert_envelope(response, h, "get")
        seen += [g["groupid"] for g in body["data"]]
        cursor = body.get("cursor")
        if cursor is None:
            break
    assert seen == ids
    denied = await h.http.get(f"{h.base}/chatgroups", headers=users["alice"])
    assert_error(denied, 401, "unauthorized")


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"custom": "x" * (8 * 1024 + 1)}, 400, "illegal_argument"),
        ({"groupname": "x" * 129}, 400, "illegal_argument"),
        ({"maxusers": 5_001}, 400, "illegal_argument"),
        ({"maxusers": "many"}, 400, "illegal_argument"),
        ({"members": [f"u{i}" for i in range(61)]}, 400, "illegal_argument"),
        ({"members": ["nobody"]}, 404, "service_resource_not_found"),
        ({"public": "maybe"}, 400, "illegal_argument"),
    ],
)
async def test_bad_creates_are_refused(
    harness: AppHarness, users: Any, body: dict[str, Any], status: int, error: str
) -> None:
    h = harness
    payload = {"groupname": "friends", "owner": "alice", **body}
    response = await h.http.post(f"{h.base}/chatgroups", json=payload, headers=h.admin_headers())
    assert_error(response, status, error)


@pytest.mark.parametrize(("group_id", "status"), [("abc", 400), ("12345", 404)])
async def test_unknown_or_invalid_group_ids(
    harness: AppHarness, users: Any, group_id: str, status: int
) -> None:
    h = harness
    response = await h.http.get(f"{h.base}/chatgroups/{group_id}/users", headers=users["alice"])
    assert response.status_code == status, response.text
