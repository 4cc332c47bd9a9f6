"""Every error code of issue 4 item 4, each produced by driving the real situation against
a live ``kibitz serve`` (SERVER_TIMEOUT / SERVER_NOT_REACHABLE / NETWORK_ERROR, which need
a broken network, are in test_mechanics.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from kibitz import (
    AdminClient,
    ChatClient,
    ChatError,
    ChatMessage,
    ChatOptions,
    ConnectionState,
    ErrorCode,
)
from tests.sdk.conftest import Clients, Live, fresh

pytestmark = pytest.mark.anyio


async def expect(code: ErrorCode, call: object) -> ChatError:
    with pytest.raises(ChatError) as info:
        await call  # type: ignore[misc]
    assert info.value.code is code, info.value
    return info.value


# -- login ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "Alice", "bob smith", "x" * 65, "al!ce"])
async def test_malformed_username_is_invalid_user_name(live: Live, name: str) -> None:
    client = ChatClient(live.chat.options())
    await expect(ErrorCode.INVALID_USER_NAME, client.login(name, password="pw"))
    await expect(ErrorCode.INVALID_USER_NAME, client.login(name, token="t"))
    assert client.state is ConnectionState.LOGGED_OUT


async def test_wrong_or_empty_password_is_invalid_password(
    live: Live, pair: dict[str, str]
) -> None:
    client = ChatClient(live.chat.options())
    await expect(ErrorCode.INVALID_PASSWORD, client.login(pair["alice"], password="wrong"))
    await expect(ErrorCode.INVALID_PASSWORD, client.login(pair["alice"], password=""))
    assert client.state is ConnectionState.LOGGED_OUT


async def test_bad_token_is_invalid_token(
    live: Live, admin: AdminClient, pair: dict[str, str]
) -> None:
    client = ChatClient(live.chat.options())
    await expect(ErrorCode.INVALID_TOKEN, client.login(pair["alice"], token="not-a-token"))
    await expect(ErrorCode.INVALID_TOKEN, client.login(pair["alice"], token=" "))
    bobs = await admin.user_token(pair["bob"])  # a valid token, of someone else
    await expect(ErrorCode.INVALID_TOKEN, client.login(pair["alice"], token=bobs))
    forged = live.chat.user_token_007((await admin.get_user(pair["alice"]))["uuid"])
    await expect(ErrorCode.INVALID_TOKEN, client.login(pair["alice"], token=forged[:-4] + "AAA="))


async def test_expired_token_is_user_authentication_failed(
    live: Live, admin: AdminClient, pair: dict[str, str]
) -> None:
    user_uuid = (await admin.get_user(pair["alice"]))["uuid"]
    expired = live.chat.user_token_007(user_uuid, ttl_s=1, issued_ago_s=60)
    client = ChatClient(live.chat.options())
    await expect(ErrorCode.USER_AUTHENTICATION_FAILED, client.login(pair["alice"], token=expired))
    valid = live.chat.user_token_007(user_uuid)
    await client.login(pair["alice"], token=valid)  # the same user, a live 007 token: fine
    await client.logout()


async def test_unknown_user_is_user_not_found(live: Live, admin: AdminClient) -> None:
    ghost = fresh("ghost")
    client = ChatClient(live.chat.options())
    await expect(ErrorCode.USER_NOT_FOUND, client.login(ghost, password="pw"))
    token = live.chat.user_token_007(str(uuid.uuid4()))  # signed, for a user that never was
    await expect(ErrorCode.USER_NOT_FOUND, client.login(ghost, token=token))


async def test_second_login_on_a_client_is_user_already_login(
    live: Live, clients: Clients, pair: dict[str, str]
) -> None:
    client, _ = await clients.login(live.chat, pair["alice"], "pw")
    await expect(ErrorCode.USER_ALREADY_LOGIN, client.login(pair["alice"], password="pw"))
    await expect(ErrorCode.USER_ALREADY_LOGIN, client.login(pair["bob"], password="pw"))
    assert client.state is ConnectionState.CONNECTED


async def test_fifth_device_is_user_login_too_many_devices(
    live: Live, clients: Clients, pair: dict[str, str]
) -> None:
    devices = [await clients.login(live.chat, pair["alice"], "pw") for _ in range(4)]
    assert len({c.resource for c, _ in devices}) == 4
    fifth, _ = clients.new(live.chat)
    await expect(ErrorCode.USER_LOGIN_TOO_MANY_DEVICES, fifth.login(pair["alice"], password="pw"))
    await devices[0][0].logout()
    await fifth.login(pair["alice"], password="pw")  # a free slot again


async def test_deactivated_user_is_user_permission_denied(
    live: Live, clients: Clients, admin: AdminClient, pair: dict[str, str]
) -> None:
    token = await admin.user_token(pair["alice"])
    online, rec = await clients.login(live.chat, pair["alice"], "pw")
    await admin.deactivate_user(pair["alice"])
    # the live session is logged out (no STATISTIC operation exists for a ban: 217)
    await rec.until(lambda: "logged_out:USER_KICKED_BY_OTHER_DEVICE" in rec.calls)
    assert online.state is ConnectionState.LOGGED_OUT
    client = ChatClient(live.chat.options())
    await expect(ErrorCode.USER_PERMISSION_DENIED, client.login(pair["alice"], password="pw"))
    await expect(ErrorCode.USER_PERMISSION_DENIED, client.login(pair["alice"], token=token))
    await admin.activate_user(pair["alice"])
    await client.login(pair["alice"], password="pw")
    await client.logout()


async def test_unknown_app_key_is_invalid_app_key(live: Live, pair: dict[str, str]) -> None:
    options = ChatOptions.for_server(live.server.rest, "acme#nope")
    client = ChatClient(options)
    await expect(ErrorCode.INVALID_APP_KEY, client.login(pair["alice"], password="pw"))
    await expect(ErrorCode.INVALID_APP_KEY, client.login(pair["alice"], token="anything"))
    with pytest.raises(ChatError) as info:
        ChatOptions.for_server(live.server.rest, "no-hash-sign")
    assert info.value.code is ErrorCode.INVALID_APP_KEY


# -- calls that need a session -------------------------------------------------------------


async def test_calls_before_login_are_user_not_login(live: Live, pair: dict[str, str]) -> None:
    client = ChatClient(live.chat.options())
    message = ChatMessage.text(pair["bob"], "too early")
    await expect(ErrorCode.USER_NOT_LOGIN, client.chat.send_message(message))
    await expect(ErrorCode.USER_NOT_LOGIN, client.renew_token("whatever"))
    await client.login(pair["alice"], password="pw")
    await client.logout()
    await expect(ErrorCode.USER_NOT_LOGIN, client.chat.send_message(message))


@dataclass(frozen=True, slots=True)
class Unchecked(ChatMessage):
    """A message that skips the SDK's own checks, so the server's are exercised."""

    def validate(self) -> None:
        return None


async def test_bad_messages_are_message_invalid(
    live: Live, clients: Clients, pair: dict[str, str]
) -> None:
    client, _ = await clients.login(live.chat, pair["alice"], "pw")
    bob = pair["bob"]
    for bad in [
        ChatMessage.text(bob, ""),
        ChatMessage.text("", "no recipient"),
        ChatMessage.text("  ", "blank recipient"),
        ChatMessage.cmd(bob, ""),
        ChatMessage.custom(bob, ""),
        ChatMessage.location(bob, 91.0, 0.0),
        ChatMessage.text(bob, "ext", ext={"n": 2**70}),
    ]:
        await expect(ErrorCode.MESSAGE_INVALID, client.chat.send_message(bad))
    # The server refuses such messages too, when a client does not check them first.
    empty = ChatMessage.text(bob, "")
    unchecked = Unchecked(empty.to, empty.body, empty.chat_type, empty.ext)
    error = await expect(ErrorCode.MESSAGE_INVALID, client.chat.send_message(unchecked))
    assert "text" in error.description
    assert client.state is ConnectionState.CONNECTED  # a refused message ends nothing


async def test_unknown_recipient_is_user_not_found(
    live: Live, clients: Clients, pair: dict[str, str]
) -> None:
    client, _ = await clients.login(live.chat, pair["alice"], "pw")
    ghost = fresh("ghost")
    error = await expect(
        ErrorCode.USER_NOT_FOUND, client.chat.send_message(ChatMessage.text(ghost, "hello?"))
    )
    assert ghost in error.description


# -- kicks arrive as on_logged_out ---------------------------------------------------------


async def test_login_elsewhere_is_user_login_another_device(live: Live, clients: Clients) -> None:
    name = fresh("solo")
    async with live.solo.admin() as solo_admin:
        await solo_admin.register_user(name, "pw")
    first, rec = await clients.login(live.solo, name, "pw")
    second, _ = await clients.login(live.solo, name, "pw")
    await rec.until(lambda: "logged_out:USER_LOGIN_ANOTHER_DEVICE" in rec.calls)
    assert first.state is ConnectionState.LOGGED_OUT
    assert second.state is ConnectionState.CONNECTED
    assert rec.calls.count("connected") == 1  # no reconnect after a kick


async def test_deleted_user_is_user_removed(
    live: Live, clients: Clients, admin: AdminClient, pair: dict[str, str]
) -> None:
    client, rec = await clients.login(live.chat, pair["alice"], "pw")
    await admin.delete_user(pair["alice"])
    await rec.until(lambda: "logged_out:USER_REMOVED" in rec.calls)
    assert client.state is ConnectionState.LOGGED_OUT


async def test_password_change_is_user_kicked_by_change_password(
    live: Live, clients: Clients, admin: AdminClient, pair: dict[str, str]
) -> None:
    client, rec = await clients.login(live.chat, pair["alice"], "pw")
    await admin.set_password(pair["alice"], "new-pw")
    await rec.until(lambda: "logged_out:USER_KICKED_BY_CHANGE_PASSWORD" in rec.calls)
    assert client.state is ConnectionState.LOGGED_OUT
    await expect(ErrorCode.INVALID_PASSWORD, client.login(pair["alice"], password="pw"))
    await client.login(pair["alice"], password="new-pw")


async def test_forced_logout_is_user_kicked_by_other_device(
    live: Live, clients: Clients, admin: AdminClient, pair: dict[str, str]
) -> None:
    phone, phone_rec = await clients.login(live.chat, pair["alice"], "pw")
    laptop, laptop_rec = await clients.login(live.chat, pair["alice"], "pw")
    assert phone.resource is not None
    await admin.disconnect_user(pair["alice"], phone.resource)  # one device
    await phone_rec.until(lambda: "logged_out:USER_KICKED_BY_OTHER_DEVICE" in phone_rec.calls)
    assert laptop.state is ConnectionState.CONNECTED
    await admin.disconnect_user(pair["alice"])  # every device
    await laptop_rec.until(lambda: "logged_out:USER_KICKED_BY_OTHER_DEVICE" in laptop_rec.calls)
