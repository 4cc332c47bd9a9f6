"""``ChatClient.create_account`` as Agora's ``createAccount``: refused with USER_REG_FAILED
while the app's registration is closed (the default), an account once the app opens it,
and the quota and duplicate refusals with their own codes. Its own server: the cases
change the app's settings."""

from __future__ import annotations

import httpx
import pytest

from kibitz import AdminClient, ChatError, ErrorCode
from tests.sdk.conftest import Clients, Live, fresh

pytestmark = pytest.mark.anyio


async def test_create_account_follows_the_apps_registration(
    live: Live, clients: Clients, admin: AdminClient
) -> None:
    client, _ = clients.new(live.chat)
    closed = fresh("carol")
    with pytest.raises(ChatError) as refused:
        await client.create_account(closed, "pw-c1")
    assert refused.value.code is ErrorCode.USER_REG_FAILED, refused.value

    await admin.update_settings(open_registration=True)
    try:
        dave = fresh("dave")
        await client.create_account(dave, "pw-d1")
        with pytest.raises(ChatError) as twice:
            await client.create_account(dave, "pw-d1")
        assert twice.value.code is ErrorCode.USER_ALREADY_EXIST, twice.value
        await client.login(dave, password="pw-d1")
        assert client.current_user == dave
        await client.logout()
        await admin.update_settings(max_users=await _user_count(live, admin))
        with pytest.raises(ChatError) as full:
            await client.create_account(fresh("erin"), "pw-e1")
        assert full.value.code is ErrorCode.EXCEED_SERVICE_LIMIT, full.value
    finally:
        await admin.update_settings(open_registration=False, max_users=1_000_000)


async def _user_count(live: Live, admin: AdminClient) -> int:
    async with httpx.AsyncClient(base_url=live.server.rest, timeout=10) as http:
        answer = await http.get(
            "/acme/chat/users",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {await admin.app_token()}"},
        )
    assert answer.status_code == 200, answer.text
    return len(answer.json()["entities"])
