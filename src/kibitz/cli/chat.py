"""``kibitz chat``: a small interactive terminal client on top of the Python SDK.

    $ kibitz chat --app-key acme#chat --user alice --password pw
    * logged in as alice — /to <user> picks a recipient, then type; /quit leaves
    /to bob
    hi bob
    * sent 1171839251744882100
    [bob] hello alice
    /group 1171839251744882200
    * now talking to group 1171839251744882200
    [#1171839251744882200 bob] hello all

Lines starting with ``/`` are commands: ``/to USER [TEXT]``, ``/group ID [TEXT]``,
``/follow USER…`` (presence), ``/add USER [MESSAGE]``, ``/accept USER``, ``/decline USER``
(contacts), ``/help``, ``/quit``; any other line is sent as a text message to the current
conversation. Group events (joins, leaves, removals …) print as ``* group ID: …``;
followed users' presence as ``* presence USER: online (DEVICE: 1) …``; contact requests
and changes as ``* contact bob: contactInvited: hi``.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import sys
from collections.abc import AsyncIterator

import click

from kibitz.protocol import ChatError
from kibitz.protocol._msync import ChatType, ContentKind
from kibitz.sdk import (
    ChatClient,
    ChatMessage,
    ChatOptions,
    CmdMessagesReceived,
    Connected,
    ContactEvent,
    Disconnected,
    EventStream,
    GroupEvent,
    LoggedOut,
    MessagesReceived,
    Presence,
    PresenceUpdated,
    TokenExpired,
    TokenWillExpire,
)

__all__ = ["chat"]

HELP = (
    "/to USER [TEXT] or /group ID [TEXT] picks the conversation (and sends TEXT); "
    "/follow USER shows their presence; /add USER [MESSAGE], /accept USER, /decline USER "
    "for contacts; /send-file PATH sends a file (images, audio, video as such); other lines "
    "are sent; /quit leaves"
)


def _say(line: str) -> None:
    click.echo(line)  # click flushes, so a pipe sees each line at once


def describe(message: ChatMessage) -> str:
    body = message.body
    if body.kind is ContentKind.TEXT:
        what = body.text
    elif body.kind is ContentKind.CMD:
        what = f"(cmd {body.action})"
    elif body.kind is ContentKind.CUSTOM:
        what = f"(custom {body.custom_event} {dict(body.custom_exts)})"
    elif body.kind is ContentKind.LOCATION:
        what = f"(location {body.latitude},{body.longitude} {body.address})".rstrip()
    elif body.url:  # an attachment: what it is, and where (the share secret opens it)
        size = f" {body.width:g}×{body.height:g}" if body.width and body.height else ""
        what = (
            f"({body.kind.value} {body.filename}{size}, {body.file_length} bytes) "
            f"{body.url}?share-secret={body.secret}"
        )
    else:
        what = f"({body.kind.value})"
    if message.chat_type is ChatType.GROUP:
        return f"[#{message.to} {message.sender}] {what}"
    return f"[{message.sender}] {what}"


def describe_event(event: GroupEvent) -> str:
    """``* group 42 (team): directJoined by alice → bob``: what happened, by and to whom."""
    name = f" ({event.group_name})" if event.group_name else ""
    line = f"* group {event.group_id}{name}: {event.operation}"
    if event.from_user:
        line += f" by {event.from_user}"
    if event.to_users:
        line += f" → {', '.join(event.to_users)}"
    if event.reason:
        line += f": {event.reason}"
    return line


def describe_presence(presence: Presence) -> str:
    """``* presence bob: online (webim_1: 1) in a meeting``: a followed user's state."""
    state = "online" if presence.online else "offline"
    devices = ", ".join(f"{d}: {s}" for d, s in sorted(presence.devices.items()))
    line = f"* presence {presence.user_id}: {state}"
    if devices:
        line += f" ({devices})"
    if presence.description:
        line += f" {presence.description}"
    return line


def describe_contact(event: ContactEvent) -> str:
    """``* contact bob: contactInvited: hi`` (answer with /accept bob or /decline bob)."""
    line = f"* contact {event.user}: {event.operation}"
    if event.reason:
        line += f": {event.reason}"
    if event.operation == "contactInvited":
        line += f" (/accept {event.user} or /decline {event.user})"
    return line


async def _contact(client: ChatClient, command: str, rest: str) -> None:
    """``/add USER [MESSAGE]``, ``/accept USER``, ``/decline USER``."""
    user, _, message = rest.strip().partition(" ")
    try:
        if command == "/add":
            await client.contacts.add_contact(user, message.strip())
        elif command == "/accept":
            await client.contacts.accept(user)
        else:
            await client.contacts.decline(user)
    except ChatError as exc:
        _say(f"! {exc}")
    else:
        _say(f"* {command[1:]} {user}: done")


async def _follow(client: ChatClient, users: list[str]) -> None:
    """``/follow USER…``: subscribe to their presence (30 days) and print it now."""
    try:
        for presence in await client.presence.subscribe(users):
            _say(describe_presence(presence))
    except ChatError as exc:
        _say(f"! {exc}")


async def _lines() -> AsyncIterator[str]:
    """stdin, line by line, without blocking the event loop (pipes and terminals)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (ValueError, OSError, NotImplementedError):  # a regular file: reads never block
        for line in sys.stdin:
            yield line.rstrip("\r\n")
        return
    while raw := await reader.readline():
        yield raw.decode(errors="replace").rstrip("\r\n")


async def _print_events(events: EventStream) -> None:
    async for event in events:
        if isinstance(event, MessagesReceived | CmdMessagesReceived):
            for message in event.messages:
                _say(describe(message))
        elif isinstance(event, GroupEvent):
            _say(describe_event(event))
        elif isinstance(event, ContactEvent):
            _say(describe_contact(event))
        elif isinstance(event, PresenceUpdated):
            for presence in event.presences:
                _say(describe_presence(presence))
        elif isinstance(event, Connected):
            _say("* connected")
        elif isinstance(event, Disconnected):
            _say(f"* disconnected ({event.code.name}), reconnecting")
        elif isinstance(event, TokenWillExpire):
            _say("* the token expires soon")
        elif isinstance(event, TokenExpired):
            _say("* the token expired; log in again")
        elif isinstance(event, LoggedOut):
            _say(f"* logged out by the server: {event.code.name} ({int(event.code)})")


async def _send_file(client: ChatClient, peer: tuple[str, ChatType], path: str) -> None:
    """``/send-file PATH``: uploaded, then sent as an image, voice, video or file message."""
    kind = (mimetypes.guess_type(path)[0] or "").split("/")[0]
    to, chat_type = peer
    if kind == "image":
        message = ChatMessage.image(to, path, chat_type=chat_type)
    elif kind == "audio":
        message = ChatMessage.voice(to, path, chat_type=chat_type)
    elif kind == "video":
        message = ChatMessage.video(to, path, chat_type=chat_type)
    else:
        message = ChatMessage.file(to, path, chat_type=chat_type)
    try:
        sent = await client.chat.send_message(message)
    except ChatError as exc:
        _say(f"! {exc}")
    else:
        _say(f"* sent {sent.msg_id} ({sent.body.kind.value}, {sent.body.file_length} bytes)")


async def _read_commands(client: ChatClient) -> None:
    peer: tuple[str, ChatType] | None = None
    async for line in _lines():
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            if command == "/quit":
                return
            if command == "/help":
                _say(f"* {HELP}")
                continue
            if command == "/follow" and rest.split():
                await _follow(client, rest.split())
                continue
            if command in ("/add", "/accept", "/decline") and rest.split():
                await _contact(client, command, rest)
                continue
            if command == "/send-file" and rest.strip():
                if peer is None:
                    _say("! no recipient yet: /to USER or /group ID")
                    continue
                await _send_file(client, peer, rest.strip())
                continue
            if command not in ("/to", "/group") or not rest.strip():
                _say(f"! unknown command {command!r}; {HELP}")
                continue
            target, _, text = rest.strip().partition(" ")
            group = command == "/group"
            peer = (target, ChatType.GROUP if group else ChatType.CHAT)
            _say(f"* now talking to {'group ' if group else ''}{target}")
            if not text.strip():
                continue
        if peer is None:
            _say("! no recipient yet: /to USER or /group ID")
            continue
        try:
            message = ChatMessage.text(peer[0], text, chat_type=peer[1])
            sent = await client.chat.send_message(message)
        except ChatError as exc:
            _say(f"! {exc}")
        else:
            _say(f"* sent {sent.msg_id}")


async def run_chat(options: ChatOptions, user: str, password: str | None, token: str | None) -> int:
    client = ChatClient(options)
    events = client.events()
    try:
        await client.login(user, password=password, token=token)
    except ChatError as exc:
        events.close()
        click.echo(f"! login failed: {exc}", err=True)
        return 1
    _say(f"* logged in as {user} — {HELP}")
    printer = asyncio.create_task(_print_events(events))
    reader = asyncio.create_task(_read_commands(client))
    try:
        await asyncio.wait({printer, reader}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        kicked = printer.done()
        for task in (printer, reader):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        events.close()
        await client.logout()
    return 2 if kicked else 0


@click.command()
@click.option(
    "--server",
    envvar="KIBITZ_SERVER",
    default="http://127.0.0.1:5280",
    show_default=True,
    help="The kibitz server (REST base URL; msync is at /websocket).",
)
@click.option("--app-key", envvar="KIBITZ_APP_KEY", required=True, help="org#app")
@click.option("--user", required=True, help="Your username.")
@click.option("--password", default=None, help="Log in with a password (prompted if omitted).")
@click.option("--token", envvar="KIBITZ_TOKEN", default=None, help="Or log in with a token.")
def chat(server: str, app_key: str, user: str, password: str | None, token: str | None) -> None:
    """Chat from the terminal: log in, /to USER or /group ID, type messages; incoming ones
    (and group events) print live."""
    if password is not None and token is not None:
        raise click.UsageError("give --password or --token, not both")
    if password is None and token is None:
        password = click.prompt("Password", hide_input=True, err=True)
    try:
        options = ChatOptions.for_server(server, app_key)
    except (ChatError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    sys.exit(asyncio.run(run_chat(options, user, password, token)))
