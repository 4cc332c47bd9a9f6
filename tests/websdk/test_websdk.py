"""The official Agora Chat Web SDK, unmodified, against a real ``kibitz serve``.

Each test runs one case of a Node scenario script (tests/websdk/scenarios/) with both pinned
SDK packages, npm ``agora-chat`` 1.4.0 and ``easemob-websdk`` 4.21.1. The expected SDK codes
come from docs/websdk-notes.md. One server serves the whole module (fresh users per test);
the restart tests restart it, keeping its data and port. Run one scenario with e.g.
``pytest tests/websdk -k password``.
"""

from __future__ import annotations

import itertools
import json
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.websdk.npm import WEBSDK_DIR, ensure_node_modules, node_executable, unavailable_reason

pytestmark = pytest.mark.websdk

SDKS = ["agora-chat", "easemob-websdk"]
SCENARIO_TIMEOUT_S = 40.0
CHAT_APP = "chat"
SOLO_APP = "solo"  # one device per user: a second login kicks the first


@pytest.fixture(scope="module")
def node_ready() -> str:
    """Path of ``node`` once the locked npm packages are installed, or skip."""
    if ensure_node_modules() is None:
        pytest.skip(f"Web SDK lane unavailable: {unavailable_reason()}")
    node = node_executable()
    assert node is not None
    return node


@dataclass
class AppCreds:
    app_key: str
    app_id: str
    app_certificate: str
    app_token: str


@dataclass
class Lane:
    """A running server, its apps, and a way to run scenario cases against it."""

    node: str
    server: LiveServer
    apps: dict[str, AppCreds] = field(default_factory=dict)
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)
    _serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add_app(self, name: str, **opts: str) -> None:
        created = self.server.create_app("acme", name, **opts)
        self.apps[name] = AppCreds(
            app_key=created["app_key"],
            app_id=created["app_id"],
            app_certificate=created["app_certificate"],
            app_token="",
        )
        self.credentials[name] = (created["client_id"], created["client_secret"])

    def authorise(self) -> None:
        """Fetch an app token per app (client_credentials) once the server is up."""
        for name, (client_id, secret) in self.credentials.items():
            body = self._rest(
                "POST",
                f"/acme/{name}/token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": secret,
                },
            )
            self.apps[name].app_token = body["access_token"]

    def _rest(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.request(
            method, f"{self.server.rest}{path}", headers=headers, timeout=10, **kw
        )
        assert response.status_code == 200, f"{method} {path}: {response.text}"
        return response.json()

    def users(self, app: str, *roles: str) -> dict[str, dict[str, str]]:
        """Register a fresh user per role (e.g. alice, bob); role → {name, password}."""
        serial = next(self._serial)
        made = {r: {"name": f"{r}{serial}", "password": f"pw-{r}-{serial}"} for r in roles}
        self._rest(
            "POST",
            f"/acme/{app}/users",
            token=self.apps[app].app_token,
            json=[{"username": u["name"], "password": u["password"]} for u in made.values()],
        )
        return made

    def run(
        self,
        script: str,
        case: str,
        sdk: str,
        *,
        app: str = CHAT_APP,
        users: dict[str, dict[str, str]] | None = None,
        on_signal: dict[str, Callable[[], None]] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Run ``scenarios/<script>.js <case>``; return its result line or fail the test.

        ``on_signal`` maps a signal the case prints (``{"signal": name}``) to an action run
        before the case is told to go on (e.g. restarting the server).
        """
        creds = self.apps[app]
        config = {
            "sdk": sdk,
            "rest": self.server.rest,
            "ws": self.server.ws,
            "appKey": creds.app_key,
            "appId": creds.app_id,
            "appCertificate": creds.app_certificate,
            "appToken": creds.app_token,
            "users": users if users is not None else self.users(app, "alice", "bob"),
            **extra,
        }
        env = {**os.environ, "WEBSDK_CONFIG": json.dumps(config)}
        cmd = [self.node, str(WEBSDK_DIR / "scenarios" / f"{script}.js"), case]
        done = _run_node(cmd, env, on_signal or {})
        if done.returncode is None:
            pytest.fail(f"{script} {case} ({sdk}) hung for {SCENARIO_TIMEOUT_S} s\n{done.stderr}")
        result = _result_line(done.stdout)
        if done.returncode != 0 or not result.get("ok"):
            pytest.fail(self._report(script, case, sdk, done, result), pytrace=False)
        return result

    def _report(
        self,
        script: str,
        case: str,
        sdk: str,
        done: NodeRun,
        result: dict[str, Any],
    ) -> str:
        log = self.server.log_path.read_text()[-3000:] if self.server.log_path else ""
        return (
            f"{script} {case} with {sdk} failed (exit {done.returncode}):\n"
            f"{json.dumps(result, indent=2)}\n--- node stderr (tail) ---\n"
            f"{done.stderr[-3000:]}\n--- server log (tail) ---\n{log}"
        )


@dataclass
class NodeRun:
    returncode: int | None  # None: killed after SCENARIO_TIMEOUT_S
    stdout: str
    stderr: str


def _run_node(
    cmd: list[str], env: dict[str, str], on_signal: dict[str, Callable[[], None]]
) -> NodeRun:
    """Run a scenario, answering its signals; every wait is bounded by SCENARIO_TIMEOUT_S."""
    deadline = time.monotonic() + SCENARIO_TIMEOUT_S
    with (
        tempfile.TemporaryFile("w+") as err,
        subprocess.Popen(
            cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True
        ) as proc,
    ):
        assert proc.stdin is not None and proc.stdout is not None
        lines: list[str] = []
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    continue
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
                signal = _signal_of(line)
                if signal is not None:
                    on_signal[signal]()
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
        try:
            code: int | None = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            code = None
        err.seek(0)
        return NodeRun(code, "".join(lines), err.read())


def _signal_of(line: str) -> str | None:
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    return parsed.get("signal") if isinstance(parsed, dict) else None


def _result_line(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            return parsed
    return {"ok": False, "error": "no result line", "stdout": stdout[-2000:]}


def _start_lane(node: str, server: LiveServer) -> Lane:
    lane = Lane(node=node, server=server)
    lane.add_app(CHAT_APP)
    lane.add_app(SOLO_APP, max_devices="1")
    server.start()
    lane.authorise()
    return lane


@pytest.fixture(scope="module")
def lane(node_ready: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:
    data_dir = tmp_path_factory.mktemp("websdk")
    server = LiveServer(data_dir=data_dir, database_url=None)
    try:
        yield _start_lane(node_ready, server)
    finally:
        server.stop()


sdk_param = pytest.mark.parametrize("sdk", SDKS)


# -- login ----------------------------------------------------------------------------------

LOGIN_CASES = [
    "password",
    "token",
    "token007",
    "wrong_password",
    "unknown_user",
    "unknown_user_token",
    "bad_token",
    "bad_token007",
    "expired_token007",
    "token_will_expire_and_renew",
    "token_expired_event",
    "renew_with_bad_token",
    "heartbeat",
]


@sdk_param
@pytest.mark.parametrize("case", LOGIN_CASES)
def test_login(lane: Lane, sdk: str, case: str) -> None:
    lane.run("login", case, sdk)


# -- messages -------------------------------------------------------------------------------


@sdk_param
@pytest.mark.parametrize(
    "case", ["kinds", "unknown_recipient", "too_large", "multi_device", "acks", "rest_send"]
)
def test_messages(lane: Lane, sdk: str, case: str) -> None:
    lane.run("messages", case, sdk)


@sdk_param
def test_offline_in_order_exactly_once(lane: Lane, sdk: str) -> None:
    result = lane.run("offline", "in_order", sdk, count=12)
    assert result["delivered"] == 12


@sdk_param
def test_offline_several_queues(lane: Lane, sdk: str) -> None:
    users = lane.users(CHAT_APP, "alice", "bob", "carol")
    assert lane.run("offline", "several_queues", sdk, users=users)["delivered"] == 12


@sdk_param
def test_offline_own_device_copy(lane: Lane, sdk: str) -> None:
    lane.run("offline", "own_copy_offline", sdk)


# -- devices and kicks ----------------------------------------------------------------------


@sdk_param
def test_fifth_device_refused(lane: Lane, sdk: str) -> None:
    lane.run("devices", "fifth_device", sdk)


@sdk_param
@pytest.mark.parametrize(
    "case",
    [
        "force_logout",
        "password_change",
        "user_deleted",
        "deactivated",
        "kick_by_resource",
        "same_resource",
    ],
)
def test_kick(lane: Lane, sdk: str, case: str) -> None:
    lane.run("kicks", case, sdk)


@sdk_param
def test_kick_login_elsewhere_single_device_app(lane: Lane, sdk: str) -> None:
    users = lane.users(SOLO_APP, "alice", "bob")
    lane.run("kicks", "login_elsewhere", sdk, app=SOLO_APP, users=users)


# -- server restarts (the module's server; restart() keeps its data and port) ---------------


@sdk_param
def test_restart_between_send_and_login_loses_nothing(lane: Lane, sdk: str) -> None:
    users = lane.users(CHAT_APP, "alice", "bob")
    sent = lane.run("offline", "send", sdk, users=users, count=5)
    lane.server.restart()
    received = lane.run("offline", "receive", sdk, users=users, count=5, expectIds=sent["ids"])
    assert received["ids"] == sent["ids"]


@sdk_param
def test_online_clients_reconnect_across_restart(lane: Lane, sdk: str) -> None:
    result = lane.run("offline", "online_restart", sdk, on_signal={"restart": lane.server.restart})
    assert result["reconnects"] >= 1


def test_lane_files_are_ours() -> None:
    """The lane ships scripts only; the SDK itself is installed by npm, never committed."""
    git = shutil.which("git")
    if git is None or not (WEBSDK_DIR.parents[1] / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        [git, "ls-files", str(WEBSDK_DIR)],
        capture_output=True,
        text=True,
        cwd=WEBSDK_DIR,
        check=False,
    ).stdout.split()
    assert not [p for p in tracked if "node_modules" in Path(p).parts]
