"""PROVISION — the login — and the device's release when its connection ends.

A login resolves the app key, checks the token, marks the device online (its cursors come
back), then asks the cluster-wide device directory for *admission* under the app's device
policy (``admit``): the directory decides which other sessions the login evicts, wherever
they are, and the bus carries those kicks to their nodes.
"""

from __future__ import annotations

import secrets
from typing import Final

from kibitz.protocol import ChatError
from kibitz.protocol._json import JsonError
from kibitz.protocol._json import loads as json_loads
from kibitz.protocol._msync import FrameError, decode_payload, pb
from kibitz.server.domain.models import App, User
from kibitz.server.domain.sessions import LiveDevice
from kibitz.server.services import Services

from ..close import Close
from ..connection import Connection, Login
from ..frames import provision_frame
from ..statuses import login_status
from .context import Context

__all__ = ["MAX_RESOURCE_CHARS", "admit", "closed", "provision"]

MAX_RESOURCE_CHARS: Final = 128
_TOKEN_PREFIX: Final = "$t$"


def _token(frame: pb.MSync, prov: pb.Provision) -> str:
    """``"$t$" + token`` from the envelope, ``Provision.auth`` or ``Provision.authToken``."""
    candidates = [frame.auth, prov.auth]
    if prov.auth_token:
        try:
            parsed = json_loads(prov.auth_token)
        except JsonError:
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


def _refuse(conn: Connection, code: pb.Status.ErrorCode, reason: str) -> None:
    """Answer the login and close: the SDK waits for the server to close (notes §1)."""
    conn.close(Close.NORMAL, "login refused", last=provision_frame(code, reason))


async def admit(s: Services, conn: Connection, reason: str) -> None:
    """Admit the logged-in ``conn`` under its app's device policy, cluster-wide (raises
    ChatError when refused), then index it here. The sessions it evicts — the one on the
    same resource, and the others a single-device app logs out — are kicked by the nodes
    that hold them, this one included, before this returns."""
    login = conn.login
    assert login is not None
    app, username = login.app, login.user.username
    live = s.live_sessions
    device = LiveDevice(
        login.resource,
        conn.session_id,
        live.node,
        live.epoch,
        login.device_uuid,
        login.device_name,
        s.clock.now_ms(),
    )
    await live.admit(app.id, username, device, app.max_devices, reason)
    s.sessions.add(app.id, username, conn)


def _release(s: Services, app: App, user: User, resource: str) -> None:
    """The device stops being tracked here unless a newer session on its resource took over."""
    if resource not in s.sessions.sessions_of(app.id, user.username):
        s.sync.device_offline(user.id, resource)


async def provision(ctx: Context, conn: Connection, frame: pb.MSync) -> None:
    s = ctx.services
    try:
        prov = decode_payload(pb.Provision, frame.payload)
    except FrameError:
        _refuse(conn, pb.Status.WRONG_PARAMETER, "malformed provision")
        return
    resource = _resource(frame, prov)
    if resource is None:
        _refuse(conn, pb.Status.WRONG_PARAMETER, "invalid resource")
        return
    try:
        app = await s.apps.resolve_key(frame.guid.app_key)
        principal = await s.auth.login(app, frame.guid.name, _token(frame, prov))
    except ChatError as exc:
        s.metrics.logins.labels("refused").inc()
        _refuse(conn, *login_status(exc))
        return
    user = principal.user
    assert user is not None  # login() only returns user principals
    conn.acked = await s.sync.device_online(user.id, resource, s.clock.now_ms())
    if conn.closing:  # the client left while we were logging it in
        _release(s, app, user, resource)
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
        await admit(s, conn, prov.reason)
    except ChatError as exc:
        s.metrics.logins.labels("refused").inc()
        _refuse(conn, *login_status(exc))
        return
    if conn.closing:  # gone while the directory admitted it: closed() already ran
        s.sessions.remove(app.id, user.username, conn)
        s.live_sessions.leave_soon(app.id, user.username, resource, conn.session_id)
        _release(s, app, user, resource)
        return
    conn.send(
        provision_frame(pb.Status.OK, resource=resource, expires_at_ms=principal.expires_at_ms)
    )
    s.metrics.logins.labels("ok").inc()


def closed(s: Services, conn: Connection) -> None:
    """A connection ended (any way): release its device."""
    login = conn.login
    if login is not None:
        s.live_sessions.leave_soon(
            login.app.id, login.user.username, login.resource, conn.session_id
        )
        _release(s, login.app, login.user, login.resource)
