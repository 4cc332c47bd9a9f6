"""The ``kibitz`` command: app management, token minting, and ``serve`` as a process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from kibitz.server.app import build_services
from kibitz.server.domain import accesstoken2
from kibitz.server.domain.accounts import NewUser
from kibitz.server.settings import Settings
from kibitz.server.storage.migrate import migrate
from tests.conftest import CHEAP_ARGON2, LiveServer

HEX32 = re.compile(r"^[0-9a-f]{32}$")
APP_FIELDS = {
    "org_name",
    "app_name",
    "app_key",
    "client_id",
    "client_secret",
    "app_id",
    "app_certificate",
}


def kibitz(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIBITZ_")}
    env.update({f"KIBITZ_{k.upper()}": str(v) for k, v in CHEAP_ARGON2.items()})
    result = subprocess.run(
        [sys.executable, "-m", "kibitz", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def create(data_dir: Path, org: str = "acme", app: str = "chat") -> dict[str, str]:
    out = kibitz(data_dir, "app", "create", org, app, "--json").stdout
    assert len(out.strip().splitlines()) == 1  # --json prints exactly one JSON object
    created: dict[str, str] = json.loads(out)
    return created


def register_user(data_dir: Path, org: str, app: str, username: str) -> str:
    """Register through the domain on the same storage; returns the user's UUID."""

    async def go() -> str:
        services = build_services(Settings(data_dir=data_dir, **CHEAP_ARGON2))
        try:
            await migrate(services.engine)
            found = await services.apps.resolve(org, app)
            result = await services.accounts.register(found, [NewUser(username=username)])
            return result.created[0].id
        finally:
            await services.engine.dispose()

    return anyio.run(go)


def verify(token: str, created: dict[str, str], privilege: int) -> accesstoken2.VerifiedChatToken:
    return accesstoken2.verify_chat_token(
        token,
        certificate_for=lambda app_id: (
            created["app_certificate"] if app_id == created["app_id"] else None
        ),
        now_s=int(time.time()),
        privilege=privilege,
    )


# -- apps -------------------------------------------------------------------------------


def test_app_create_prints_credentials_as_json(tmp_path: Path) -> None:
    created = create(tmp_path)
    assert set(created) == APP_FIELDS
    assert created["org_name"] == "acme" and created["app_name"] == "chat"
    assert created["app_key"] == "acme#chat"
    assert HEX32.match(created["app_id"]) and HEX32.match(created["app_certificate"])
    assert created["client_id"] and created["client_secret"]
    assert created["client_id"] != created["client_secret"]


def test_app_create_refuses_a_duplicate_and_a_bad_name(tmp_path: Path) -> None:
    create(tmp_path)
    again = kibitz(tmp_path, "app", "create", "acme", "chat", "--json", check=False)
    assert again.returncode != 0 and "already exists" in again.stderr
    bad = kibitz(tmp_path, "app", "create", "ac me", "chat", "--json", check=False)
    assert bad.returncode != 0


def test_app_list_show_delete(tmp_path: Path) -> None:
    first = create(tmp_path, "acme", "chat")
    second = create(tmp_path, "acme", "support")
    listed = json.loads(kibitz(tmp_path, "app", "list", "--json").stdout)
    assert {a["app_key"] for a in listed} == {"acme#chat", "acme#support"}
    assert all("client_secret" not in a and "app_certificate" not in a for a in listed)
    plain = kibitz(tmp_path, "app", "list").stdout
    assert "acme#chat" in plain and first["app_id"] in plain
    shown = json.loads(kibitz(tmp_path, "app", "show", "acme", "support", "--json").stdout)
    assert shown == second
    kibitz(tmp_path, "app", "delete", "acme", "support")
    listed = json.loads(kibitz(tmp_path, "app", "list", "--json").stdout)
    assert [a["app_key"] for a in listed] == ["acme#chat"]
    missing = kibitz(tmp_path, "app", "show", "acme", "support", check=False)
    assert missing.returncode != 0
    assert kibitz(tmp_path, "app", "delete", "acme", "support", check=False).returncode != 0


def test_app_settings_show_change_and_refuse(tmp_path: Path) -> None:
    create(tmp_path, "acme", "chat")
    create(tmp_path, "acme", "other")
    shown = json.loads(kibitz(tmp_path, "app", "settings", "acme", "chat", "--json").stdout)
    assert shown["contacts_only"] is False and shown["group_offline_messages"] == 200
    changed = kibitz(tmp_path, "app", "settings", "acme", "chat", "contacts_only=on")
    assert re.search(r"^contacts_only\s+true$", changed.stdout, re.M), changed.stdout
    kibitz(tmp_path, "app", "settings", "acme", "chat", "group_offline_messages=600")
    again = json.loads(kibitz(tmp_path, "app", "settings", "acme", "chat", "--json").stdout)
    assert again["contacts_only"] is True and again["group_offline_messages"] == 600
    other = json.loads(kibitz(tmp_path, "app", "settings", "acme", "other", "--json").stdout)
    assert other["contacts_only"] is False
    bad = kibitz(
        tmp_path,
        "app",
        "settings",
        "acme",
        "chat",
        "presence=off",
        "group_offline_messages=0",
        check=False,
    )
    assert bad.returncode != 0 and "group_offline_messages must be between" in bad.stderr
    unknown = kibitz(tmp_path, "app", "settings", "acme", "chat", "colour=blue", check=False)
    assert unknown.returncode != 0 and "unknown setting colour" in unknown.stderr
    assert kibitz(tmp_path, "app", "settings", "acme", "chat", "presence", check=False).returncode
    final = json.loads(kibitz(tmp_path, "app", "settings", "acme", "chat", "--json").stdout)
    assert final["presence"] is True  # the refused batch changed nothing
    missing = kibitz(tmp_path, "app", "settings", "acme", "nope", check=False)
    assert missing.returncode != 0


def test_app_disable_and_enable(tmp_path: Path) -> None:
    create(tmp_path, "acme", "chat")
    assert kibitz(tmp_path, "app", "disable", "acme", "chat").stdout.strip() == "disabled acme#chat"

    async def state() -> bool:
        services = build_services(Settings(data_dir=tmp_path))
        try:
            return (await services.apps.resolve("acme", "chat")).disabled
        finally:
            await services.engine.dispose()

    assert anyio.run(state) is True
    kibitz(tmp_path, "app", "enable", "acme", "chat")
    assert anyio.run(state) is False
    assert kibitz(tmp_path, "app", "disable", "acme", "nope", check=False).returncode != 0


# -- tokens --------------------------------------------------------------------------------


def test_token_app_mints_a_verifiable_app_token(tmp_path: Path) -> None:
    created = create(tmp_path)
    token = kibitz(tmp_path, "token", "app", "acme", "chat", "--ttl", "600").stdout.strip()
    assert token.startswith("007")
    verified = verify(token, created, accesstoken2.PRIVILEGE_APP)
    assert verified.app_id == created["app_id"] and verified.user_id == ""
    assert verified.expires_at_s - verified.issue_ts == 600
    with pytest.raises(Exception, match="privilege"):
        verify(token, created, accesstoken2.PRIVILEGE_USER)


def test_token_user_mints_a_token_bound_to_the_uuid(tmp_path: Path) -> None:
    created = create(tmp_path)
    uuid = register_user(tmp_path, "acme", "chat", "alice")
    token = kibitz(tmp_path, "token", "user", "acme", "chat", "alice").stdout.strip()
    verified = verify(token, created, accesstoken2.PRIVILEGE_USER)
    assert verified.user_id == uuid
    assert verified.expires_at_s - verified.issue_ts == 86_400


def test_token_commands_fail_for_unknown_app_or_user(tmp_path: Path) -> None:
    create(tmp_path)
    assert kibitz(tmp_path, "token", "app", "nope", "chat", check=False).returncode != 0
    result = kibitz(tmp_path, "token", "user", "acme", "chat", "ghost", check=False)
    assert result.returncode != 0 and "ghost" in result.stderr


# -- with a running server ----------------------------------------------------------------


def _post(server: LiveServer, path: str, body: Any, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(server.rest + path, json=body, headers=headers, timeout=10)


def test_app_created_while_the_server_runs_is_served(live_server: LiveServer) -> None:
    server = live_server
    created = server.create_app("beta", "chat")
    app_token = kibitz(server.data_dir, "token", "app", "beta", "chat").stdout.strip()
    # The server picks the new app up: its 007 app token administers it over REST...
    response = _post(server, "/beta/chat/users", {"username": "alice", "password": "pw"}, app_token)
    assert response.status_code == 200, response.text
    uuid = response.json()["entities"][0]["uuid"]
    # ...the agora grant exchanges it, and the client credentials work too.
    exchanged = _post(server, "/beta/chat/token", {"grant_type": "agora"}, app_token)
    assert exchanged.status_code == 200 and exchanged.json()["expire_timestamp"] > 0
    cc = {
        "grant_type": "client_credentials",
        "client_id": created["client_id"],
        "client_secret": created["client_secret"],
    }
    assert _post(server, "/beta/chat/token", cc).status_code == 200
    # A user token minted by the CLI is bound to the UUID the server assigned.
    user_token = kibitz(server.data_dir, "token", "user", "beta", "chat", "alice").stdout.strip()
    assert verify(user_token, created, accesstoken2.PRIVILEGE_USER).user_id == uuid


def test_sigterm_stops_the_server_cleanly(live_server: LiveServer) -> None:
    proc = live_server.proc
    assert proc is not None
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert time.monotonic() - started < 10
    live_server.proc = None
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{live_server.rest}/health", timeout=1)
