"""MSync command → domain call, and domain outcome → the status the Web SDK understands.

Only status/reason pairs the SDK maps are ever sent (docs/websdk-notes.md, and
agora-protocol.md §7): a PERMISSION_DENIED with a reason it does not know leaves a send
hanging until its 15 s timeout, so the only PERMISSION_DENIED here is "data is too large".
Nothing a client sends may crash the server: bad bytes close the connection, a bad but
decodable request gets an error reply, an unexpected exception closes with 1011.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Final

from kibitz.protocol import ChatError, ErrorCode
from kibitz.protocol._msync import (
    GROUP_DOMAIN,
    FrameError,
    decode_frame,
    decode_payload,
    pb,
)
from kibitz.server.domain.accounts import USERNAME_RE
from kibitz.server.domain.messaging import Sender, unknown_user_reason
from kibitz.server.services import Services

from .connection import CLOSE_INTERNAL, CLOSE_NORMAL, CLOSE_POLICY, Connection, ConnState, Login
from .frames import (
    provision_frame,
    send_ack_frame,
    send_fail_frame,
    sync_batch_frame,
    sync_error_frame,
    unread_frame,
)

__all__ = ["Dispatcher", "login_status", "send_status"]

log = logging.getLogger(__name__)

CLOSE_BAD_DATA: Final = 1007
MAX_RESOURCE_CHARS: Final = 128
_TOKEN_PREFIX: Final = "$t$"

# Provision replies (docs/websdk-notes.md §1).
TOKEN_EXPIRED: Final = "Sorry, token expired"
TOKEN_MISMATCH: Final = "Sorry, token or password does not match login info"
USER_NOT_FOUND: Final = "Sorry, user not found"
USER_DEACTIVATED: Final = "Sorry, user is deactivated"
TOO_MANY_DEVICES: Final = "Sorry, too many devices"
APP_NOT_FOUND: Final = "Sorry, app key not found"


def login_status(exc: ChatError) -> tuple[pb.Status.ErrorCode, str]:
    """A failed login → the Provision status the SDK turns into the right error type."""
    code = exc.code
    if code is ErrorCode.USER_AUTHENTICATION_FAILED and "expired" in exc.description:
        return pb.Status.FAIL, TOKEN_EXPIRED  # 56
    if code in (ErrorCode.INVALID_TOKEN, ErrorCode.USER_AUTHENTICATION_FAILED):
        return pb.Status.FAIL, TOKEN_MISMATCH  # 28
    if code in (ErrorCode.USER_NOT_FOUND, ErrorCode.INVALID_USER_NAME):
        return pb.Status.FAIL, USER_NOT_FOUND  # 204
    if code is ErrorCode.USER_PERMISSION_DENIED:
        return pb.Status.PERMISSION_DENIED, USER_DEACTIVATED  # 2, never retried
    if code is ErrorCode.USER_LOGIN_TOO_MANY_DEVICES:
        return pb.Status.TOO_MANY_DEVICES, TOO_MANY_DEVICES  # 214 (4.21) / 2 (1.4)
    if code is ErrorCode.INVALID_APP_KEY:
        return pb.Status.FAIL, APP_NOT_FOUND  # 2
    return pb.Status.FAIL, "Sorry, login failed"  # 2


def send_status(exc: ChatError) -> tuple[pb.Status.ErrorCode, str]:
    """A refused send → the ack status (agora-protocol.md §7.2)."""
    code = exc.code
    if code is ErrorCode.USER_NOT_FOUND:
        return pb.Status.FAIL, exc.description  # "username x doesn't exist!" → 204
    if code is ErrorCode.EXCEED_SERVICE_LIMIT:
        return pb.Status.PERMISSION_DENIED, "Sorry, data is too large"  # 511
    if code is ErrorCode.GROUP_NOT_EXIST:
        return pb.Status.FAIL, "group not found"  # 605
    if code is ErrorCode.CHATROOM_NOT_EXIST:
        return pb.Status.FAIL, exc.description  # "grpID x does not exist!" → 705
    return pb.Status.FAIL, exc.description or "message refused"  # 503


def _token(frame: pb.MSync, prov: pb.Provision) -> str:
    """``"$t$" + token`` from the envelope, ``Provision.auth`` or ``Provision.authToken``."""
    candidates = [frame.auth, prov.auth]
    if prov.auth_token:
        try:
            parsed = json.loads(prov.auth_token)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("token"), str):
            candidates.append(parsed["token"])
    for raw in candidates:
        if raw:
            return raw[len(_TOKEN_PREFIX) :] if raw.startswith(_TOKEN_PREFIX) else raw
    return ""


def _resource(frame: pb.MSync, prov: pb.Provision) -> str | None:
    """The client's resource (echoed back), a fresh one if it gave none, None if unusable."""
    resource = prov.resource or frame.guid.client_resource
    if not resource:
        return "kibitz_" + secrets.token_hex(8)
    if len(resource) > MAX_RESOURCE_CHARS or not resource.isprintable() or "/" in resource:
        return None
    return resource


class Dispatcher:
    def __init__(self, services: Services) -> None:
        self._s = services

    async def __call__(self, conn: Connection, data: bytes) -> None:
        try:
            frame = decode_frame(data)
        except FrameError:
            conn.close(CLOSE_BAD_DATA, "not an msync frame", flush=False)
            return
        command = frame.command
        try:
            if conn.state is ConnState.CONNECTED:
                if command != pb.MSync.PROVISION:
                    conn.close(CLOSE_POLICY, "log in first", flush=False)
                else:
                    await self._provision(conn, frame)
            elif command == pb.MSync.SYNC:
                await self._sync(conn, frame)
            elif command == pb.MSync.UNREAD:
                await self._unread(conn)
            elif command == pb.MSync.LOGOUT:
                conn.close(CLOSE_NORMAL, "logged out")
            else:  # a second PROVISION, an uplink NOTICE, an unknown command
                conn.close(CLOSE_POLICY, "unexpected command", flush=False)
        except Exception:
            log.exception("msync dispatch failed")
            conn.close(CLOSE_INTERNAL, "internal error", flush=False)

    # -- PROVISION -------------------------------------------------------------------------

    def _refuse(self, conn: Connection, code: pb.Status.ErrorCode, reason: str) -> None:
        """Answer the login and close: the SDK waits for the server to close (notes §1)."""
        conn.close(CLOSE_NORMAL, "login refused", last=provision_frame(code, reason))

    async def _provision(self, conn: Connection, frame: pb.MSync) -> None:
        s = self._s
        try:
            prov = decode_payload(pb.Provision, frame.payload)
        except FrameError:
            self._refuse(conn, pb.Status.WRONG_PARAMETER, "malformed provision")
            return
        resource = _resource(frame, prov)
        if resource is None:
            self._refuse(conn, pb.Status.WRONG_PARAMETER, "invalid resource")
            return
        try:
            app = await s.apps.resolve_key(frame.guid.app_key)
            principal = await s.auth.login(app, frame.guid.name, _token(frame, prov))
        except ChatError as exc:
            self._refuse(conn, *login_status(exc))
            return
        user = principal.user
        assert user is not None  # login() only returns user principals
        conn.acked = await s.sync.device_online(user.id, resource, s.clock.now_ms())
        if conn.closing:  # the client left while we were logging it in
            if resource not in s.sessions.sessions_of(app.id, user.username):
                s.sync.device_offline(user.id, resource)
            return
        conn.provisioned(
            Login(
                app,
                user,
                resource,
                principal.expires_at_ms,
                device_uuid=prov.device_uuid[:MAX_RESOURCE_CHARS],
                device_name=prov.device_name[:MAX_RESOURCE_CHARS],
            )
        )
        try:
            replaced, kicked = s.sessions.admit(app.id, user.username, conn, app.max_devices)
        except ChatError as exc:
            self._refuse(conn, *login_status(exc))
            return
        conn.send(
            provision_frame(pb.Status.OK, resource=resource, expires_at_ms=principal.expires_at_ms)
        )
        if replaced is not None:
            await conn.spawn(replaced.kick(ErrorCode.USER_LOGIN_ANOTHER_DEVICE, prov.reason))
        for old in kicked:
            await conn.spawn(old.kick(ErrorCode.USER_LOGIN_ANOTHER_DEVICE, prov.reason))

    def closed(self, conn: Connection) -> None:
        """A connection ended: its device stops being tracked unless a newer session on
        the same resource has taken over."""
        login = conn.login
        if login is None:
            return
        live = self._s.sessions.sessions_of(login.app.id, login.user.username)
        if login.resource not in live:
            self._s.sync.device_offline(login.user.id, login.resource)

    # -- UNREAD (also the heartbeat: always answered) ------------------------------------

    async def _unread(self, conn: Connection) -> None:
        login = conn.login
        assert login is not None
        try:
            counts = await self._s.sync.unread(login.user.id, login.resource)
            pending = [(c.queue, c.count) for c in counts]
        except Exception:
            log.exception("unread summary failed; answering the heartbeat empty")
            pending = []
        conn.send(unread_frame(login.app.app_key, pending, self._s.clock.now_ms()))

    # -- SYNC: a message up, or a pull --------------------------------------------------

    async def _sync(self, conn: Connection, frame: pb.MSync) -> None:
        try:
            ul = decode_payload(pb.CommSyncUL, frame.payload)
        except FrameError:
            conn.send(sync_error_frame(pb.Status.PB_PARSER_ERROR, "malformed CommSyncUL"))
            return
        if ul.HasField("meta"):
            await self._uplink(conn, ul.meta)
        elif ul.HasField("queue"):
            await self._pull(conn, ul)
        else:
            conn.send(sync_error_frame(pb.Status.MISSING_PARAMETER, "neither meta nor queue"))

    async def _uplink(self, conn: Connection, meta: pb.Meta) -> None:
        if meta.ns == pb.Meta.STATISTIC:
            return  # login statistics: no reply wanted
        now = self._s.clock.now_ms()
        if meta.ns != pb.Meta.CHAT:
            conn.send(send_fail_frame(meta.id, pb.Status.FAIL, "not supported", now))
            return
        try:
            body = decode_payload(pb.MessageBody, meta.payload)
        except FrameError:
            conn.send(send_fail_frame(meta.id, pb.Status.FAIL, "malformed message", now))
            return
        to = meta.to_jid.name or body.to_jid.name
        refusal = _unsupported(body, to, meta.to_jid.domain)
        if refusal is not None:
            conn.send(send_fail_frame(meta.id, *send_status(refusal), now))
            return
        online_only = meta.routetype == pb.Meta.ROUTE_ONLINE
        await conn.spawn(self._send(conn, meta.id, to, body, online_only))

    async def _send(
        self, conn: Connection, meta_id: int, to: str, body: pb.MessageBody, online_only: bool
    ) -> None:
        login = conn.login
        assert login is not None
        sender = Sender(login.app, login.user.username, login.user.id, login.resource)
        try:
            stored = await self._s.messaging.send(sender, to, body, online_only=online_only)
        except ChatError as exc:
            code, reason = send_status(exc)
            conn.send(send_fail_frame(meta_id, code, reason, self._s.clock.now_ms()))
        except Exception:
            log.exception("send failed")
            now = self._s.clock.now_ms()
            conn.send(send_fail_frame(meta_id, pb.Status.FAIL, "internal error", now))
        else:
            conn.send(send_ack_frame(meta_id, stored.id, stored.timestamp_ms))

    async def _pull(self, conn: Connection, ul: pb.CommSyncUL) -> None:
        login = conn.login
        assert login is not None
        s = self._s
        name = ul.queue.name
        app_key = login.app.app_key
        if ul.queue.domain == GROUP_DOMAIN or not USERNAME_RE.match(name):
            queue = f"{name}@{GROUP_DOMAIN}" if ul.queue.domain == GROUP_DOMAIN else name
            conn.send(sync_batch_frame(app_key, queue, [], s.clock.now_ms()))
            return
        owner, resource = login.user.id, login.resource
        conn.begin_pull(name)
        try:
            if ul.key > conn.acked.get(name, 0):
                conn.acked[name] = ul.key
                await s.sync.ack(owner, resource, name, ul.key)
            rows = await s.sync.pull(owner, resource, name, conn.acked.get(name, 0))
            conn.send(sync_batch_frame(app_key, name, rows, s.clock.now_ms()))
        finally:
            conn.end_pull(name)


def _unsupported(body: pb.MessageBody, to: str, domain: str) -> ChatError | None:
    """Message kinds the gateway does not carry yet, refused with a reason the SDK maps."""
    kind = body.type
    to_group = domain == GROUP_DOMAIN and kind != pb.MessageBody.CHATROOM
    if kind == pb.MessageBody.GROUPCHAT or to_group:
        return ChatError(ErrorCode.GROUP_NOT_EXIST, "group not found")
    if kind == pb.MessageBody.CHATROOM:
        return ChatError(ErrorCode.CHATROOM_NOT_EXIST, f"grpID {to} does not exist!")
    if kind == pb.MessageBody.RECALL:
        return ChatError(ErrorCode.SERVICE_NOT_ENABLED, "message recall disabled")  # 505
    if kind == pb.MessageBody.EDIT:
        return ChatError(ErrorCode.SERVICE_NOT_ENABLED, "message edit not supported")
    if not to:
        return ChatError(ErrorCode.USER_NOT_FOUND, unknown_user_reason(to))
    return None
