"""``kibitz user …`` and ``kibitz message send``: an operator's everyday calls without curl.

They talk to a running server (``--server``, default the ``make serve`` address) through
the Python SDK's ``AdminClient`` — so a force-logout reaches the live sessions and a sent
message its online recipients at once — with the app's credentials, read from the storage
the app commands use (or given as ``--client-id``/``--client-secret`` for a remote server).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import click

from kibitz.cli.storage import run, settings_from, storage_options
from kibitz.protocol import ChatError
from kibitz.sdk import AdminClient, ChatMessage, ChatType

__all__ = ["message_group", "user_group"]

T = TypeVar("T")
DEFAULT_SERVER = "http://127.0.0.1:5280"


def _target_options(fn: Any) -> Any:
    fn = click.option("--client-secret", envvar="KIBITZ_CLIENT_SECRET", help="The app's secret.")(
        fn
    )
    fn = click.option(
        "--client-id",
        envvar="KIBITZ_CLIENT_ID",
        help="The app's client id (default: read it from storage).",
    )(fn)
    fn = click.option(
        "--server",
        envvar="KIBITZ_SERVER",
        default=DEFAULT_SERVER,
        show_default=True,
        help="REST base URL.",
    )(fn)
    return storage_options(fn)


def _credentials(org: str, app: str, opts: dict[str, Any]) -> tuple[str, str]:
    if opts["client_id"] and opts["client_secret"]:
        return opts["client_id"], opts["client_secret"]
    found = run(
        settings_from(opts["data_dir"], opts["database_url"]), lambda s: s.apps.resolve(org, app)
    )
    return found.client_id, found.client_secret


def _call(
    org: str, app: str, opts: dict[str, Any], action: Callable[[AdminClient], Awaitable[T]]
) -> T:
    client_id, secret = _credentials(org, app, opts)

    async def run() -> T:
        async with AdminClient(
            opts["server"], f"{org}#{app}", client_id=client_id, client_secret=secret
        ) as admin:
            return await action(admin)

    try:
        return anyio.run(run)
    except ChatError as exc:
        raise click.ClickException(f"{exc.code.name} ({int(exc.code)}): {exc.description}") from exc


@click.group("user")
def user_group() -> None:
    """Create, show, change and delete users of an app (through a running server)."""


@user_group.command("create")
@click.argument("org")
@click.argument("app")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--nickname")
@_target_options
def user_create(
    org: str, app: str, username: str, password: str, nickname: str | None, **opts: Any
) -> None:
    """Register USERNAME in ORG#APP."""
    entity = _call(org, app, opts, lambda a: a.register_user(username, password, nickname=nickname))
    click.echo(json.dumps({k: entity.get(k) for k in ("uuid", "username", "activated")}))


@user_group.command("show")
@click.argument("org")
@click.argument("app")
@click.argument("username")
@_target_options
def user_show(org: str, app: str, username: str, **opts: Any) -> None:
    """A user's account, and whether it is online."""

    async def both(a: AdminClient) -> dict[str, Any]:
        entity = await a.get_user(username)
        return {
            **{k: entity.get(k) for k in ("uuid", "username", "activated", "nickname")},
            "online": await a.is_online(username),
        }

    click.echo(json.dumps(_call(org, app, opts, both)))


@user_group.command("password")
@click.argument("org")
@click.argument("app")
@click.argument("username")
@click.option("--password", prompt="New password", hide_input=True, confirmation_prompt=True)
@_target_options
def user_password(org: str, app: str, username: str, password: str, **opts: Any) -> None:
    """Set a new password (the user's sessions are logged out)."""
    _call(org, app, opts, lambda a: a.set_password(username, password))
    click.echo(f"password of {username} changed")


@user_group.command("deactivate")
@click.argument("org")
@click.argument("app")
@click.argument("username")
@_target_options
def user_deactivate(org: str, app: str, username: str, **opts: Any) -> None:
    """Ban a user: logged out, and its logins refused until ``activate``."""
    _call(org, app, opts, lambda a: a.deactivate_user(username))
    click.echo(f"deactivated {username}")


@user_group.command("activate")
@click.argument("org")
@click.argument("app")
@click.argument("username")
@_target_options
def user_activate(org: str, app: str, username: str, **opts: Any) -> None:
    _call(org, app, opts, lambda a: a.activate_user(username))
    click.echo(f"activated {username}")


@user_group.command("logout")
@click.argument("org")
@click.argument("app")
@click.argument("username")
@click.option("--resource", help="Only this device (default: every device).")
@_target_options
def user_logout(org: str, app: str, username: str, resource: str | None, **opts: Any) -> None:
    """Force a user's devices (or one of them) to log out."""
    _call(org, app, opts, lambda a: a.disconnect_user(username, resource))
    click.echo(f"logged out {username}" + (f"/{resource}" if resource else ""))


@user_group.command("delete")
@click.argument("org")
@click.argument("app")
@click.argument("username")
@_target_options
def user_delete(org: str, app: str, username: str, **opts: Any) -> None:
    """Delete a user (the groups it owns go with it)."""
    _call(org, app, opts, lambda a: a.delete_user(username))
    click.echo(f"deleted {username}")


@click.group("message")
def message_group() -> None:
    """Send messages as a user of an app (through a running server)."""


@message_group.command("send")
@click.argument("org")
@click.argument("app")
@click.argument("to")
@click.argument("text")
@click.option("--from", "sender", required=True, help="The user the message comes from.")
@click.option("--group", is_flag=True, help="TO is a group id.")
@_target_options
def message_send(
    org: str, app: str, to: str, text: str, sender: str, group: bool, **opts: Any
) -> None:
    """Send TEXT to user (or, with --group, group) TO; prints the message id."""
    kind = ChatType.GROUP if group else ChatType.CHAT
    msg_id = _call(
        org, app, opts, lambda a: a.send_message(sender, ChatMessage.text(to, text, chat_type=kind))
    )
    click.echo(msg_id)
