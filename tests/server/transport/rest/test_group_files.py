"""A group's shared files: members upload (≤ 10 MB), list, download; the uploader, the
owner or an admin delete; outsiders are refused as Agora refuses non-members."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import AppHarness

from .support import assert_error, bearer, register, user_token

pytestmark = pytest.mark.anyio


async def group_of(h: AppHarness) -> tuple[str, dict[str, str]]:
    await register(h, "owner", "member", "other", "outsider")
    made = await h.http.post(
        f"{h.base}/chatgroups",
        json={
            "groupname": "g",
            "desc": "d",
            "public": True,
            "maxusers": 10,
            "owner": "owner",
            "members": ["member", "other"],
        },
        headers=h.admin_headers(),
    )
    assert made.status_code == 200, made.text
    tokens = {n: await user_token(h, n) for n in ("owner", "member", "other", "outsider")}
    return str(made.json()["data"]["groupid"]), tokens


async def share(h: AppHarness, group: str, token: str, data: bytes, name: str = "a.txt") -> Any:
    return await h.http.post(
        f"{h.base}/chatgroups/{group}/share_files",
        files={"file": (name, data, "text/plain")},
        headers=bearer(token),
    )


async def test_members_share_list_download_and_delete(harness: AppHarness) -> None:
    h = harness
    group, tokens = await group_of(h)
    up = await share(h, group, tokens["member"], b"minutes of the meeting", "minutes.txt")
    assert up.status_code == 200, up.text
    data = up.json()["data"]
    assert data["file_name"] == "minutes.txt" and data["file_size"] == 22
    assert data["file_url"].endswith(f"/chatgroups/{group}/share_files/{data['file_id']}")
    await share(h, group, tokens["owner"], b"second")
    listed = await h.http.get(
        f"{h.base}/chatgroups/{group}/share_files",
        params={"pagenum": "1", "pagesize": "10"},
        headers=bearer(tokens["other"]),
    )
    assert listed.status_code == 200, listed.text
    files = listed.json()["data"]
    assert [(f["file_name"], f["file_owner"]) for f in files] == [
        ("minutes.txt", "member"),
        ("a.txt", "owner"),
    ]
    page2 = await h.http.get(
        f"{h.base}/chatgroups/{group}/share_files",
        params={"pagenum": "2", "pagesize": "1"},
        headers=h.admin_headers(),
    )
    assert [f["file_owner"] for f in page2.json()["data"]] == ["owner"]
    url = f"{h.base}/chatgroups/{group}/share_files/{data['file_id']}"
    got = await h.http.get(url, headers=bearer(tokens["other"]))
    assert got.status_code == 200 and got.content == b"minutes of the meeting"
    # A member who did not upload it may not delete it; the uploader (or the owner) may.
    refused = await h.http.delete(url, headers=bearer(tokens["other"]))
    assert_error(refused, 403, "forbidden_op")
    deleted = await h.http.delete(url, headers=bearer(tokens["member"]))
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["data"] == {"group_id": group, "file_id": data["file_id"], "result": True}
    assert_error(
        await h.http.get(url, headers=bearer(tokens["owner"])), 404, "service_resource_not_found"
    )


async def test_outsiders_and_limits(harness: AppHarness) -> None:
    h = harness
    group, tokens = await group_of(h)
    refused = await share(h, group, tokens["outsider"], b"spam")
    body = assert_error(refused, 403, "forbidden_op")
    assert "are not members of this group" in body["error_description"]  # the SDK's 602
    up = await share(h, group, tokens["member"], b"x")
    url = f"{h.base}/chatgroups/{group}/share_files/{up.json()['data']['file_id']}"
    assert_error(await h.http.get(url, headers=bearer(tokens["outsider"])), 403, "forbidden_op")
    too_large = await share(h, group, tokens["member"], b"z" * (10 * 1024 * 1024 + 1))
    assert_error(too_large, 413, "request_entity_too_large")
    unknown = await share(h, "99999999", tokens["member"], b"x")
    assert_error(unknown, 404, "resource_not_found")
    # A shared file is not another group's, nor readable as a chat file without its secret.
    other_group, _ = await group_of_second(h)
    wrong = f"{h.base}/chatgroups/{other_group}/share_files/{up.json()['data']['file_id']}"
    assert_error(
        await h.http.get(wrong, headers=h.admin_headers()), 404, "service_resource_not_found"
    )
    chatfile = f"{h.base}/chatfiles/{up.json()['data']['file_id']}"
    assert_error(
        await h.http.get(chatfile, headers=bearer(tokens["outsider"])), 403, "forbidden_op"
    )


async def group_of_second(h: AppHarness) -> tuple[str, None]:
    made = await h.http.post(
        f"{h.base}/chatgroups",
        json={"groupname": "g2", "desc": "d", "public": True, "maxusers": 10, "owner": "owner"},
        headers=h.admin_headers(),
    )
    assert made.status_code == 200, made.text
    return str(made.json()["data"]["groupid"]), None
