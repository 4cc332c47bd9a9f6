"""``kibitz``: serve, manage apps, mint tokens (more commands register themselves here)."""

from __future__ import annotations

import gc
import json
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import click

from kibitz.bench import bench
from kibitz.cli.admin import message_group, user_group
from kibitz.cli.chat import chat
from kibitz.cli.storage import run as _run
from kibitz.cli.storage import settings_from as _settings
from kibitz.cli.storage import storage_options as _storage_options
from kibitz.server.app import create_app
from kibitz.server.domain import accesstoken2
from kibitz.server.domain.models import App

__all__ = ["main"]


def app_json(app: App) -> dict[str, str]:
    return {
        "org_name": app.org_name,
        "app_name": app.app_name,
        "app_key": app.app_key,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "app_id": app.app_id,
        "app_certificate": app.app_certificate,
    }


@click.group()
def main() -> None:
    """kibitz: self-hosted instant messaging, wire-compatible with Agora Chat."""


@main.command()
@click.option("--host", envvar="KIBITZ_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="KIBITZ_PORT", type=int, default=5280, show_default=True)
@click.option(
    "--redis-url",
    envvar="KIBITZ_REDIS_URL",
    help="redis://… shared by every node of a cluster (with a PostgreSQL --database-url).",
)
@click.option(
    "--public-url",
    envvar="KIBITZ_PUBLIC_URL",
    help="How clients reach this node, for server discovery (default http://HOST:PORT).",
)
@click.option(
    "--file-store",
    envvar="KIBITZ_FILE_STORE",
    help="Where attachments live: a directory (default DATA_DIR/files) or s3://bucket/prefix "
    "(endpoint and credentials from the AWS settings: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID…).",
)
@_storage_options
def serve(
    host: str,
    port: int,
    redis_url: str | None,
    public_url: str | None,
    file_store: str | None,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Run the server (REST + msync WebSocket) until SIGINT/SIGTERM.

    One node by default (SQLite under --data-dir). With --redis-url and a PostgreSQL
    --database-url it joins a cluster: start as many nodes as you like, each on its own
    host/port, all with the same two URLs."""
    import uvicorn

    from kibitz.server.logs import configure_logging
    from kibitz.server.serving import uvicorn_config

    settings = _settings(
        data_dir,
        database_url,
        host=host,
        port=port,
        redis_url=redis_url,
        public_url=public_url,
        file_store=file_store,
    )
    if settings.redis_url and not settings.resolved_database_url().startswith("postgresql"):
        raise click.UsageError("a cluster (--redis-url) needs a PostgreSQL --database-url")

    def announce(app: App) -> None:
        # Shown once, on the first start, so a newcomer can log in; never logged.
        click.echo("Created the default app; keep these credentials:")
        click.echo(json.dumps(app_json(app), indent=2))
        sys.stdout.flush()

    configure_logging(settings.log_level, settings.log_format)
    asgi = create_app(settings, on_default_app=announce)
    config = uvicorn_config(asgi, settings)
    # uvicorn drains on SIGTERM, then re-raises the signal, which would end the process
    # with -15; a drained stop is a clean exit, so the re-raised SIGTERM exits 0 instead.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    # Fewer, cheaper collections: frames and protobuf messages are short-lived, and a full
    # collection that rescans the start-up heap stalls every connection for 50-90 ms
    # (docs/bench-findings.md B8).
    gc.set_threshold(*GC_THRESHOLDS)

    class FrozenStartServer(uvicorn.Server):
        """Once started, move everything allocated so far (modules, SQLAlchemy and protobuf
        metadata, the app) to the permanent generation: it lives as long as the process."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            gc.collect()
            gc.freeze()

    FrozenStartServer(config).run()


GC_THRESHOLDS = (20_000, 20, 20)


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


@main.group("app")
def app_group() -> None:
    """Create, list, show, configure, ban and delete apps."""


@app_group.command("create")
@click.argument("org")
@click.argument("app")
@click.option("--max-devices", type=int, default=None, help="Sessions per user (default 4).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_storage_options
def app_create(
    org: str,
    app: str,
    max_devices: int | None,
    as_json: bool,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Create app ORG#APP with fresh credentials."""
    created: App = _run(
        _settings(data_dir, database_url), lambda s: s.apps.create(org, app, max_devices)
    )
    click.echo(json.dumps(app_json(created), indent=None if as_json else 2))


@app_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@_storage_options
def app_list(as_json: bool, data_dir: Path | None, database_url: str | None) -> None:
    """List apps (keys only, no secrets)."""
    apps: list[App] = _run(_settings(data_dir, database_url), lambda s: s.apps.all_apps())
    if as_json:
        click.echo(json.dumps([{"app_key": a.app_key, "app_id": a.app_id} for a in apps]))
    else:
        for a in apps:
            click.echo(f"{a.app_key}\t{a.app_id}")


@app_group.command("show")
@click.argument("org")
@click.argument("app")
@click.option("--json", "as_json", is_flag=True)
@_storage_options
def app_show(
    org: str, app: str, as_json: bool, data_dir: Path | None, database_url: str | None
) -> None:
    """Show one app with its credentials."""
    found: App = _run(_settings(data_dir, database_url), lambda s: s.apps.resolve(org, app))
    click.echo(json.dumps(app_json(found), indent=None if as_json else 2))


@app_group.command("delete")
@click.argument("org")
@click.argument("app")
@_storage_options
def app_delete(org: str, app: str, data_dir: Path | None, database_url: str | None) -> None:
    """Delete an app and everything in it (its files' bytes too: KIBITZ_FILE_STORE)."""

    async def delete(s: Any) -> None:
        found = await s.apps.resolve(org, app)
        await s.files.forget_app(found.id)  # the blobs; the rows go with the app
        await s.apps.delete(org, app)

    _run(_settings(data_dir, database_url), delete)
    click.echo(f"deleted {org}#{app}")


@main.group("files")
def files_group() -> None:
    """Attachments: the retention sweep."""


@files_group.command("gc")
@click.option("--file-store", envvar="KIBITZ_FILE_STORE", help="A directory or s3://bucket/prefix.")
@_storage_options
def files_gc(file_store: str | None, data_dir: Path | None, database_url: str | None) -> None:
    """Delete the files past their app's retention (file_retention_days), as the server's
    hourly sweep does."""
    settings = _settings(data_dir, database_url, file_store=file_store)
    removed = _run(settings, lambda s: s.files.sweep())
    click.echo(f"removed {removed} expired files")


@app_group.command("disable")
@click.argument("org")
@click.argument("app")
@_storage_options
def app_disable(org: str, app: str, data_dir: Path | None, database_url: str | None) -> None:
    """Ban app ORG#APP: logins and REST calls are refused (305); nothing is lost.

    A running server closes the app's sessions at once when the ban comes through its
    admin route (POST /{org}/{app}/disable); from here it takes effect within seconds.
    """
    _run(_settings(data_dir, database_url), lambda s: s.apps.set_disabled(org, app, True))
    click.echo(f"disabled {org}#{app}")


@app_group.command("enable")
@click.argument("org")
@click.argument("app")
@_storage_options
def app_enable(org: str, app: str, data_dir: Path | None, database_url: str | None) -> None:
    """Lift the ban on app ORG#APP."""
    _run(_settings(data_dir, database_url), lambda s: s.apps.set_disabled(org, app, False))
    click.echo(f"enabled {org}#{app}")


@app_group.command("settings")
@click.argument("org")
@click.argument("app")
@click.argument("changes", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_storage_options
def app_settings(
    org: str,
    app: str,
    changes: tuple[str, ...],
    as_json: bool,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Show an app's limits and switches; KEY=VALUE pairs change them (all or none).

    A running server applies a change within a few seconds (its copy expires); the admin
    route PUT /{org}/{app}/settings applies it on every node at once.
    """
    parsed: dict[str, str] = {}
    for change in changes:
        key, sep, value = change.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{change!r} is not KEY=VALUE", param_hint="CHANGES")
        parsed[key.strip()] = value

    async def apply(s: Any) -> dict[str, int | bool]:
        found = await s.apps.resolve(org, app)
        current = await s.app_settings.update(found.id, parsed)
        result: dict[str, int | bool] = current.as_dict()
        return result

    values = _run(_settings(data_dir, database_url), apply)
    if as_json:
        click.echo(json.dumps(values))
    else:
        width = max(len(name) for name in values)
        for name, value in values.items():
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            click.echo(f"{name:<{width}}  {shown}")


@main.group("token")
def token_group() -> None:
    """Mint Agora 007 tokens with an app's certificate."""


@token_group.command("app")
@click.argument("org")
@click.argument("app")
@click.option("--ttl", type=int, default=86_400, show_default=True, help="Lifetime in seconds.")
@_storage_options
def token_app(
    org: str, app: str, ttl: int, data_dir: Path | None, database_url: str | None
) -> None:
    """Print a 007 chat app token (REST administration)."""

    async def mint(s: Any) -> str:
        found: App = await s.apps.resolve(org, app)
        return accesstoken2.build_chat_app_token(
            found.app_id, found.app_certificate, ttl, issue_ts=s.clock.now_ms() // 1000
        )

    click.echo(_run(_settings(data_dir, database_url), mint))


@token_group.command("user")
@click.argument("org")
@click.argument("app")
@click.argument("username")
@click.option("--ttl", type=int, default=86_400, show_default=True, help="Lifetime in seconds.")
@_storage_options
def token_user(
    org: str, app: str, username: str, ttl: int, data_dir: Path | None, database_url: str | None
) -> None:
    """Print a 007 chat user token bound to USERNAME's UUID (SDK login)."""

    async def mint(s: Any) -> str:
        found: App = await s.apps.resolve(org, app)
        user = await s.accounts.get(found, username)
        return accesstoken2.build_chat_user_token(
            found.app_id, found.app_certificate, user.id, ttl, issue_ts=s.clock.now_ms() // 1000
        )

    click.echo(_run(_settings(data_dir, database_url), mint))


main.add_command(bench)

main.add_command(chat)
main.add_command(user_group)
main.add_command(message_group)
