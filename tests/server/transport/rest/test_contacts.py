"""Contacts and block lists over REST, as the Web SDK (the user's own token) and an app's
backend (app token) call them: the answers the SDK reads, and each refusal with the status,
``error`` and description that give the SDK its code (agora-protocol-2.md §1.5, §5.1)."""

from __future__ import annotations

from typing import Any

import pytest

from kibitz.server.domain.contact_models import NOT_FRIENDS
from tests.conftest import AppHarness

from .support import assert_error, bearer, register, user_token

pytestmark = pytest.mark.anyio


@pytest.fixture
async def users(harness: AppHarness) -> dict[str, dict[str, str]]:
    names = ("alice", "bob", "carol", "dave")
    await register(harness, *names)
    return {n: bearer(await user_token(harness, n)) for n in names}


async def call(
    h: AppHarness, method: str, path: str, headers: dict[str, str], status: int = 200, **kw: Any
) -> dict[str, Any]:
    response = await h.http.request(method, h.base + path, headers=headers, **kw)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def befriend(h: AppHarness, users: Any, a: str, b: str) -> None:
    await call(h, "POST", f"/users/{a}/contacts/apply", users[a], json={"usernames": [b]})
    await call(h, "POST", f"/users/{b}/contacts/accept/users/{a}", users[b])


async def test_request_accept_and_the_lists(harness: AppHarness, users: Any) -> None:
    h = harness
    await befriend(h, users, "alice", "bob")
    await befriend(h, users, "carol", "alice")
    body = await call(h, "GET", "/users/alice/contacts/users", users["alice"])
    assert body["data"] == ["bob", "carol"] and body["count"] == 2
    await call(
        h, "PUT", "/users/alice/contacts/users/bob", users["alice"], json={"remark": "Bobby"}
    )
    body = await call(h, "GET", "/users/alice/contacts/users?needReturnRemark=true", users["alice"])
    assert body["entities"] == [
        {"username": "bob", "remark": "Bobby"},
        {"username": "carol", "remark": None},
    ]
    # paged, with the cursor the SDK hands back (getContactsWithCursor)
    first = await call(
        h, "GET", "/users/alice/contacts?needReturnRemark=true&limit=1&cursor=", users["alice"]
    )
    assert first["data"]["contacts"] == [{"username": "bob", "remark": "Bobby"}]
    cursor = first["data"]["cursor"]
    assert isinstance(cursor, str) and cursor
    rest = await call(h, "GET", f"/user/alice/contacts?limit=1&cursor={cursor}", users["alice"])
    assert rest["data"] == {"contacts": [{"username": "carol"}], "cursor": None}
    assert (await call(h, "GET", "/users/bob/rosters", h.admin_headers()))["data"] == ["alice"]
    # deleting is both sides'
    deleted = await call(h, "DELETE", "/users/bob/contacts/users/alice", users["bob"])
    assert deleted["entities"][0]["username"] == "alice"
    assert (await call(h, "GET", "/users/alice/contacts/users", users["alice"]))["data"] == [
        "carol"
    ]


async def test_a_user_token_acts_only_as_its_user(harness: AppHarness, users: Any) -> None:
    h = harness
    for method, path in [
        ("POST", "/users/bob/contacts/apply"),
        ("GET", "/users/bob/contacts/users"),
        ("POST", "/sdk/user/bob/blocks"),
        ("GET", "/users/bob/blocks/users"),
    ]:
        response = await h.http.request(
            method, h.base + path, headers=users["alice"], json={"usernames": ["carol"]}
        )
        assert_error(response, 401, "unauthorized")
    # the direct add is the app's alone
    response = await h.http.post(f"{h.base}/users/alice/contacts/users/bob", headers=users["alice"])
    assert_error(response, 401, "unauthorized")
    body = await call(h, "POST", "/users/alice/contacts/users/bob", h.admin_headers())
    assert body["entities"][0]["username"] == "bob"
    assert (await call(h, "GET", "/users/bob/contacts/users", users["bob"]))["data"] == ["alice"]


async def test_requests_that_cannot_be_made(harness: AppHarness, users: Any) -> None:
    h = harness
    a = users["alice"]

    async def apply(to: str, status: int, error: str, headers: Any = a) -> str:
        response = await h.http.post(
            f"{h.base}/users/alice/contacts/apply", headers=headers, json={"usernames": [to]}
        )
        return str(assert_error(response, status, error)["error_description"])

    assert "doesn't exist" in await apply("nobody", 404, "service_resource_not_found")
    assert "yourself" in await apply("alice", 400, "contact_add_failed")
    await call(h, "POST", "/users/alice/contacts/apply", a, json={"usernames": ["bob"]})
    assert "pending" in await apply("bob", 400, "contact_add_failed")
    await call(h, "POST", "/users/bob/contacts/accept/users/alice", users["bob"])
    assert "already" in await apply("bob", 400, "contact_add_failed")
    # answering a request nobody made
    for verb in ("accept", "decline"):
        response = await h.http.post(
            f"{h.base}/users/carol/contacts/{verb}/users/dave", headers=users["carol"]
        )
        assert_error(response, 400, "contact_add_failed")
    # a blocked user cannot ask its blocker
    await call(h, "POST", "/sdk/user/dave/blocks", users["dave"], json={"usernames": ["alice"]})
    await apply("dave", 403, "forbidden_op")
    for body in ({"usernames": []}, {"usernames": ["bob", "carol"]}, {"usernames": 3}, []):
        response = await h.http.post(f"{h.base}/users/alice/contacts/apply", headers=a, json=body)
        assert_error(response, 400, "illegal_argument")


async def test_contact_limits_name_the_side_that_is_full(harness: AppHarness, users: Any) -> None:
    h = harness
    await h.services.app_settings.update(h.app.id, {"contacts_per_user": 1})
    await befriend(h, users, "alice", "bob")
    response = await h.http.post(
        f"{h.base}/users/alice/contacts/apply",
        headers=users["alice"],
        json={"usernames": ["carol"]},
    )
    body = assert_error(response, 403, "exceed_limit")
    assert "Inviter's contact max count" in body["error_description"]  # SDK: 50
    response = await h.http.post(
        f"{h.base}/users/carol/contacts/apply", headers=users["carol"], json={"usernames": ["bob"]}
    )
    body = assert_error(response, 403, "exceed_limit")
    assert "Invitee's contact max count" in body["error_description"]
    # at accept: the accepting side filled up meanwhile
    await h.services.app_settings.update(h.app.id, {"contacts_per_user": 2})
    await call(
        h, "POST", "/users/carol/contacts/apply", users["carol"], json={"usernames": ["dave"]}
    )
    await call(h, "POST", "/users/dave/contacts/apply", users["dave"], json={"usernames": ["bob"]})
    await call(h, "POST", "/users/bob/contacts/accept/users/dave", users["bob"])
    await h.services.app_settings.update(h.app.id, {"contacts_per_user": 1})
    response = await h.http.post(
        f"{h.base}/users/carol/contacts/accept/users/dave", headers=users["carol"]
    )
    assert_error(response, 400, "contact_add_failed")  # carol asked dave, not the reverse
    response = await h.http.post(
        f"{h.base}/users/dave/contacts/accept/users/carol", headers=users["dave"]
    )
    assert (
        "Inviter's contact max count"
        in assert_error(response, 403, "exceed_limit")["error_description"]
    )


async def test_remarks(harness: AppHarness, users: Any) -> None:
    h = harness
    await befriend(h, users, "alice", "bob")
    path = f"{h.base}/user/alice/contacts/users/bob"
    response = await h.http.put(path, headers=users["alice"], json={"remark": "x" * 100})
    assert response.status_code == 200 and response.json()["status"] == "ok"
    response = await h.http.put(path, headers=users["alice"], json={"remark": "x" * 101})
    body = assert_error(response, 400, "illegal_argument")
    assert body["error_description"].startswith("remark length must less")  # SDK: 50
    response = await h.http.put(
        f"{h.base}/users/alice/contacts/users/carol", headers=users["alice"], json={"remark": "c"}
    )
    assert assert_error(response, 400, "illegal_argument")["error_description"] == NOT_FRIENDS


async def test_block_lists(harness: AppHarness, users: Any) -> None:
    h = harness
    a = users["alice"]
    body = await call(h, "POST", "/sdk/user/alice/blocks", a, json={"usernames": ["bob"]})
    assert body["data"] == ["bob"]
    body = await call(
        h, "POST", "/users/alice/blocks/users", h.admin_headers(), json={"usernames": ["carol"]}
    )
    assert body["data"] == ["carol"]
    body = await call(h, "GET", "/users/alice/blocks/users", a)
    assert body["data"] == ["carol", "bob"] and body["count"] == 2  # newest first
    page = await call(h, "GET", "/users/alice/blocks/users?pageSize=1", a)
    assert page["data"] == ["carol"] and page["cursor"]
    page = await call(h, "GET", f"/users/alice/blocks/users?pageSize=1&cursor={page['cursor']}", a)
    assert page["data"] == ["bob"] and "cursor" not in page
    body = await call(h, "DELETE", "/sdk/user/alice/blocks", a, json={"usernames": "carol"})
    assert body["data"] == ["carol"]
    body = await call(h, "DELETE", "/users/alice/blocks/users/bob", h.admin_headers())
    assert body["entities"][0]["username"] == "bob"
    assert (await call(h, "GET", "/users/alice/blocks/users", a))["data"] == []
    # refusals: unknown, self, too many at once, a full list
    for names, status, error in [
        (["nobody"], 404, "service_resource_not_found"),
        (["alice"], 400, "illegal_argument"),
        ([f"u{i}" for i in range(51)], 400, "illegal_argument"),
    ]:
        response = await h.http.post(
            f"{h.base}/sdk/user/alice/blocks", headers=a, json={"usernames": names}
        )
        assert_error(response, status, error)
    await h.services.app_settings.update(h.app.id, {"blocklist_per_user": 1})
    response = await h.http.post(
        f"{h.base}/sdk/user/alice/blocks", headers=a, json={"usernames": ["bob", "carol"]}
    )
    body = assert_error(response, 400, "illegal_argument")
    assert body["error_description"] == "The quantity has exceeded the limit!"  # SDK: 50
    assert (await call(h, "GET", "/users/alice/blocks/users", a))["data"] == []  # nothing half


async def test_deleted_user_leaves_no_contact(harness: AppHarness, users: Any) -> None:
    h = harness
    await befriend(h, users, "alice", "bob")
    await call(h, "POST", "/sdk/user/alice/blocks", users["alice"], json={"usernames": ["carol"]})
    await call(h, "DELETE", "/users/bob", h.admin_headers())
    await call(h, "DELETE", "/users/carol", h.admin_headers())
    assert (await call(h, "GET", "/users/alice/contacts/users", users["alice"]))["data"] == []
    assert (await call(h, "GET", "/users/alice/blocks/users", users["alice"]))["data"] == []


async def test_out_of_range_paging(harness: AppHarness, users: Any) -> None:
    h = harness
    a = users["alice"]
    for query in ("limit=0", "limit=51", "limit=x", "cursor=%%%", "cursor=bm90LWEtdXNlcg"):
        response = await h.http.get(f"{h.base}/users/alice/contacts?{query}", headers=a)
        if query.startswith("cursor=bm90"):  # a well-formed cursor past everything: empty
            assert response.status_code == 200 and response.json()["data"]["contacts"] == []
        else:
            assert_error(response, 400, "illegal_argument")
    for query in ("pageSize=0", "pageSize=51", "pageSize=1&cursor=abc"):
        response = await h.http.get(f"{h.base}/users/alice/blocks/users?{query}", headers=a)
        assert_error(response, 400, "illegal_argument")
    response = await h.http.get(
        f"{h.base}/users/alice/contacts?limit=undefined&cursor=undefined", headers=a
    )
    assert response.status_code == 200  # the SDK's "not given"
