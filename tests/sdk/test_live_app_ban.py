"""A banned app through the Python SDK: a login fails with SERVER_SERVICE_RESTRICTED (305),
as do the app's REST calls, until the app is enabled again (its own server: the ban
would disturb other modules' tests)."""

from __future__ import annotations

import pytest

from kibitz import AdminClient, ChatError, ErrorCode
from tests.sdk.conftest import Clients, Live, fresh

pytestmark = pytest.mark.anyio


async def test_a_banned_app_refuses_logins_and_calls_until_enabled(
    live: Live, clients: Clients, admin: AdminClient
) -> None:
    alice = fresh("alice")
    await admin.register_users([(alice, "pw")])
    await admin.disable_app()
    try:
        client, _ = clients.new(live.chat)
        with pytest.raises(ChatError) as login:
            await client.login(alice, password="pw")
        assert login.value.code is ErrorCode.SERVER_SERVICE_RESTRICTED, login.value
        with pytest.raises(ChatError) as call:
            await admin.get_user(alice)
        assert call.value.code is ErrorCode.SERVER_SERVICE_RESTRICTED, call.value
        token_login, _ = clients.new(live.chat)
        with pytest.raises(ChatError) as by_token:
            await token_login.login(
                alice, token=live.chat.user_token_007(await _uuid(admin, alice))
            )
        assert by_token.value.code is ErrorCode.SERVER_SERVICE_RESTRICTED, by_token.value
    finally:
        await admin.enable_app()
    again, _ = clients.new(live.chat)
    await again.login(alice, password="pw")
    assert again.current_user == alice


async def _uuid(admin: AdminClient, username: str) -> str:
    await admin.enable_app()  # read the uuid while the app serves, then ban it again
    try:
        return str((await admin.get_user(username))["uuid"])
    finally:
        await admin.disable_app()
