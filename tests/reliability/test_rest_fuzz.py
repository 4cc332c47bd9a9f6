"""Hostile REST clients against a real ``kibitz serve``: whatever arrives, the answer is never
a 5xx, every error carries Agora's JSON error body, and afterwards the server is healthy.

Requests go over bare sockets (rest_requests.py builds them, httpraw.py sends them), so the
fuzz reaches what an HTTP library would refuse to send. Violations are collected, grouped by
route and kind, and reported together at the end of a run instead of being shrunk one by one.
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import jwt
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kibitz.server.domain import accesstoken2
from tests.conftest import LiveServer

from .figures import record
from .health import check_healthy, log_offset, traceback_report, tracebacks, watching
from .httpraw import RawRequest, RawResponse, error_body_problem, exchange
from .rest_requests import Secrets, cursor, nested, requests
from .tenant import TIMEOUT, Tenant

MAX_BODY = 1024 * 1024  # settings.max_body_bytes: past it the server may answer and hang up
EXAMPLES = 2500  # per fuzz test; each is one request
BUDGET_S = 35.0  # a slow machine stops sending there (the count says how far it got)
TOTAL: Counter[str] = Counter()


@dataclass
class Fuzz:
    server: LiveServer
    tenant: Tenant
    secrets: Secrets  # user credentials only
    admin_secrets: Secrets  # and the app's
    violations: dict[str, list[str]] = field(default_factory=dict)

    @property
    def host(self) -> bytes:
        return f"127.0.0.1:{self.server.port}".encode()


def _forged(app_id: str, sub: str) -> str:
    now = int(time.time())
    return jwt.encode({"aud": app_id, "sub": sub, "iat": now, "exp": now + 600}, "k" * 32)


def _alg_none(app_id: str) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'aud': app_id, 'sub': 'app'})}."


def _groups(tenant: Tenant) -> tuple[bytes, ...]:
    """A few real groups for ``{group_id}`` (none if this build has no groups yet)."""
    ids = []
    for n in range(2):
        body = {"groupname": f"fuzz{n}", "owner": "alice", "members": ["bob"], "public": n == 0}
        reply = httpx.post(
            f"{tenant.base}/chatgroups", json=body, headers=tenant.admin(), timeout=TIMEOUT
        )
        if reply.status_code == 200:
            ids.append(str(reply.json()["data"]["groupid"]).encode())
    return tuple(ids)


@pytest.fixture(scope="module")
def fuzz(module_server: LiveServer) -> Iterator[Fuzz]:
    tenant = Tenant.create(module_server, "acme", "chat")
    tenant.users("alice", "bob")
    expired = tenant.login("alice", ttl=1)  # expired a second later, early in the run
    tenant.login("alice")
    other = Tenant.create(module_server, "other", "app")
    other.users("mallory")
    app_id, cert = tenant.creds["app_id"], tenant.creds["app_certificate"]
    alice = httpx.get(f"{tenant.base}/users/alice", headers=tenant.admin(), timeout=TIMEOUT)
    alice_id = alice.json()["entities"][0]["uuid"]
    now = int(time.time())

    def bearer(token: str) -> str:
        return f"Bearer {token}"

    users: dict[str, str | None] = {
        "none": None,
        "alice": bearer(tenant.tokens["alice"]),
        "bob": bearer(tenant.tokens["bob"]),
        "expired": bearer(expired),
        "other app's user": bearer(other.tokens["mallory"]),
        "alice 007": bearer(
            accesstoken2.build_chat_user_token(app_id, cert, alice_id, 600, issue_ts=now)
        ),
        "forged": bearer(_forged(app_id, alice_id)),
        "alg none": bearer(_alg_none(app_id)),
        "garbage": "Bearer ö-not-a-token",
        "long": bearer("t" * 20_000),
        "empty": "Bearer ",
    }
    admins: dict[str, str | None] = {
        **users,
        "app": bearer(tenant.app_token),
        "app 007": bearer(accesstoken2.build_chat_app_token(app_id, cert, 600, issue_ts=now)),
        "other app": bearer(other.app_token),
        "other app 007": bearer(
            accesstoken2.build_chat_app_token(
                other.creds["app_id"], other.creds["app_certificate"], 600, issue_ts=now
            )
        ),
    }
    cid, secret = tenant.creds["client_id"], tenant.creds["client_secret"]
    known = {"group_id": _groups(tenant)}
    known["group_ids"] = (*known["group_id"], b",".join(known["group_id"]))
    yield Fuzz(
        module_server,
        tenant,
        Secrets(cid, secret, users, preferred=("alice", "bob", "alice 007"), known=known),
        Secrets(cid, secret, admins, preferred=("app", "app 007"), known=known),
    )
    record("rest fuzz", **dict(TOTAL))


@pytest.fixture(autouse=True)
def _fresh_violations(fuzz: Fuzz) -> None:
    fuzz.violations.clear()  # each test reports its own


def expect(response: RawResponse | str, status: int) -> None:
    if not isinstance(response, RawResponse):
        pytest.fail(f"no response: {response}")
    if response.status != status:
        pytest.fail(f"expected HTTP {status}, got {response.describe()}")


def judge(request: RawRequest, response: RawResponse | str) -> str | None:
    """What is wrong with this answer, if anything."""
    if isinstance(response, str):
        if len(request.body) > MAX_BODY and response in ("reset", "closed"):
            TOTAL["hung up on an oversized body"] += 1
            return None
        return f"no response ({response})"
    if response.status >= 500:
        return f"HTTP {response.status}"
    if response.status >= 400 and request.method != b"HEAD":
        problem = error_body_problem(response)
        if problem:
            return f"HTTP {response.status}: {problem}"
    return None


def send(fz: Fuzz, route: str, request: RawRequest) -> RawResponse | str:
    """One request, judged; a violation is kept under its route and kind."""
    TOTAL["requests"] += 1
    data = request.encode()
    response = exchange("127.0.0.1", fz.server.port, data, head=request.method == b"HEAD")
    problem = judge(request, response)
    if problem:
        shown = response.describe() if isinstance(response, RawResponse) else response
        examples = fz.violations.setdefault(f"{route}: {problem}", [])
        examples.append(f"    {request.describe()}\n      → {shown}")
    return response


def report(violations: dict[str, list[str]]) -> str:
    lines = [f"{len(violations)} kind(s) of violation:"]
    for kind, examples in sorted(violations.items()):
        lines.append(f"  {kind}  ×{len(examples)}")
        lines.extend(examples[:2])
    return "\n".join(lines)


def assert_clean(fz: Fuzz, since: int) -> None:
    assert fz.server.proc is not None and fz.server.proc.poll() is None, "the server died"
    found = tracebacks(fz.server, since)
    failures = [report(fz.violations)] if fz.violations else []
    failures += [traceback_report(found)] if found else []
    if failures:
        pytest.fail("\n\n".join(failures))


def run_fuzz(fz: Fuzz, secrets: Secrets, name: str) -> None:
    since = log_offset(fz.server)
    deadline = time.monotonic() + BUDGET_S
    statuses = Counter[str]()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=requests(secrets, fz.host))
    def one(case: tuple[str, RawRequest]) -> None:
        if time.monotonic() > deadline:
            return
        route, request = case
        response = send(fz, route, request)
        status = response.status if isinstance(response, RawResponse) else response
        statuses[str(status)] += 1

    started = time.monotonic()
    one()
    record(
        f"rest fuzz ({name})",
        requests=statuses.total(),
        seconds=round(time.monotonic() - started, 1),
        answers=dict(sorted(statuses.items())),
    )
    assert_clean(fz, since)


# -- the fuzz ----------------------------------------------------------------------------


def test_fuzz_with_user_credentials(fuzz: Fuzz) -> None:
    """No app credential at all: user tokens (own, another user's, another app's user's,
    expired, forged, 007) and broken ones."""
    run_fuzz(fuzz, fuzz.secrets, "user credentials")


def test_fuzz_with_app_credentials(fuzz: Fuzz) -> None:
    """App tokens too: every route's handler runs, with the bodies and queries it reads."""
    run_fuzz(fuzz, fuzz.admin_secrets, "app credentials")


RAW_HEADS = [
    b"GET /health HTTP/1.1", b"GET /acme/chat/users HTTP/1.1", b"POST /acme/chat/token HTTP/1.1",
    b"GET * HTTP/1.1", b"GET http://evil/health HTTP/1.1", b"GET /health HTTP/1.0",
    b"GET /health HTTP/2.0", b"GET /health HTTP/9.9", b"GET /health HTTP/1.1x",
    b"GET /health", b"GET  /health HTTP/1.1", b"get /health http/1.1", b"G\x00T / HTTP/1.1",
    b"GET /\x00 HTTP/1.1", b"GET /\xff HTTP/1.1", b"GET / / HTTP/1.1", b"\x16\x03\x01\x02\x00",
    b"PRI * HTTP/2.0\r\n\r\nSM", b"", b" ", b"GET /health?a=\x7f HTTP/1.1",
]  # fmt: skip
RAW_HEADERS = [
    b"Host: x", b"Host x", b"Host : x", b" folded: continuation", b"X: \x00", b"X: \xff\xfe",
    b"Content-Length: -1", b"Content-Length: abc", b"Content-Length: 99999999999999999999",
    b"Content-Length: 5", b"Content-Length: 0", b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked, identity", b"Transfer-Encoding: x",
    b"X" * 300 + b": v", b": no name", b"X-\x01: v", b"Content-Type: application/json",
    b"Authorization: Bearer \xff",
]  # fmt: skip
RAW_BODIES = [b"", b"{}", b"5\r\nhello\r\n0\r\n\r\n", b"zz\r\nx\r\n", b"3\r\nab", b"\x00" * 10]


@st.composite
def raw_inputs(draw: st.DrawFn) -> bytes:
    line = draw(st.sampled_from(RAW_HEADS) | st.binary(max_size=40))
    if draw(st.integers(0, 5)) == 0:
        line = line.replace(b"/health", b"/" + b"p" * draw(st.sampled_from([8_000, 70_000])))
    headers = draw(st.lists(st.sampled_from(RAW_HEADERS) | st.binary(max_size=20), max_size=5))
    if draw(st.integers(0, 9)) == 0:
        headers += [b"X-Many: v"] * draw(st.sampled_from([100, 2_000]))
    eol = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    body = draw(st.sampled_from(RAW_BODIES) | st.binary(max_size=30))
    return eol.join([line, *headers]) + eol + eol + body


def test_fuzz_malformed_http(fuzz: Fuzz) -> None:
    """Broken HTTP framing: bad request lines, versions, header syntax, lengths, chunking,
    binary garbage. The client half-closes after sending, so the server sees where the input
    ends: a response, if any, must be a JSON error, never a 5xx."""
    with watching(fuzz.server):
        tried = Counter[str]()

        @settings(
            max_examples=400,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(data=raw_inputs())
        def one(data: bytes) -> None:
            tried["requests"] += 1
            TOTAL["requests"] += 1
            response = exchange("127.0.0.1", fuzz.server.port, data, half_close=True)
            if isinstance(response, str):
                tried[f"no response ({response})"] += 1
                return
            tried[f"HTTP {response.status}"] += 1
            problem = judge(RawRequest(b"?", b"", [], data), response)
            if problem:
                fuzz.violations.setdefault(f"malformed HTTP: {problem}", []).append(
                    f"    {data[:300]!r}\n      → {response.describe()}"
                )

        one()
        record("rest fuzz (malformed HTTP)", **dict(sorted(tried.items())))
        if fuzz.violations:
            pytest.fail(report(fuzz.violations))


# -- the regressions the lane exists to keep out ------------------------------------------

JSON_ROUTES = [
    ("POST", "/token", False),
    ("POST", "/users", True),
    ("POST", "/users/batch/status", True),
    ("PUT", "/users/alice/password", True),
    ("POST", "/messages/users", True),
]
DEEP = 100_000


def expect_400(fz: Fuzz, method: str, path: str, admin: bool, body: bytes = b"") -> None:
    """``method /acme/chat{path}`` (with the app token if ``admin``) is answered 400, in
    Agora's error body; the server's tracebacks come with a failure (``watching``)."""
    headers = [(b"Host", fz.host)]
    if body:
        headers.append((b"Content-Type", b"application/json"))
    if admin:
        headers.append((b"Authorization", f"Bearer {fz.tenant.app_token}".encode()))
    request = RawRequest(method.encode(), f"/acme/chat{path}".encode(), headers, body)
    with watching(fz.server):
        expect(send(fz, f"{method} {path.split('?')[0]}", request), 400)
        if fz.violations:
            pytest.fail(report(fz.violations))


@pytest.mark.parametrize("kind", ["arrays", "objects", "mixed", "open", "in a field"])
@pytest.mark.parametrize(("method", "path", "admin"), JSON_ROUTES)
def test_deeply_nested_json_is_a_client_error(
    fuzz: Fuzz, method: str, path: str, admin: bool, kind: str
) -> None:
    """(a) A recursive decoder runs out of stack on ``[[[[…``: it is malformed JSON, 400."""
    body = b'{"username": ' + nested(DEEP) + b"}" if kind == "in a field" else nested(DEEP, kind)
    expect_400(fuzz, method, path, admin, body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"username": "\xff"}',
        b'{"username": "\xed\xa0\x80"}',
        b'"\xc0\xaf"',
        b'{"\xf4\x90\x80\x80": 1}',
    ],
    ids=["invalid start byte", "encoded surrogate", "overlong", "past U+10FFFF"],
)
@pytest.mark.parametrize(("method", "path", "admin"), JSON_ROUTES)
def test_invalid_utf8_in_json_is_a_client_error(
    fuzz: Fuzz, method: str, path: str, admin: bool, body: bytes
) -> None:
    """JSON is UTF-8: a string that is not is malformed JSON, 400 (found by this fuzz)."""
    expect_400(fuzz, method, path, admin, body)


@pytest.mark.parametrize(
    "position", [99999999999999999999999, 2**63, 2**64 + 5, -1, "9" * 5000, "1e30"]
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_cursor_out_of_range_is_a_client_error(fuzz: Fuzz, method: str, position: object) -> None:
    """(b) A cursor holding a number no SQL integer holds was never handed out: 400."""
    expect_400(fuzz, method, f"/users?limit=1&cursor={cursor(position)}", True)


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_usernames_are_refused(fuzz: Fuzz, name: str) -> None:
    """(e) ``.`` and ``..`` are path segments, not usernames: registration, a batch
    registration and the inherit grant's auto-creation all refuse them."""
    with watching(fuzz.server):
        t = fuzz.tenant
        with httpx.Client(timeout=TIMEOUT, headers=t.admin()) as http:
            one = http.post(f"{t.base}/users", json={"username": name, "password": "secret"})
            assert one.status_code == 400, one.text
            batch = http.post(f"{t.base}/users", json=[{"username": name}, {"username": "dotty"}])
            assert batch.status_code in (200, 400), batch.text
            inherit = {"grant_type": "inherit", "username": name, "autoCreateUser": True}
            grant = http.post(f"{t.base}/token", json=inherit)
            assert grant.status_code == 400, grant.text
            listed, page = [], {"limit": "100"}
            while True:
                reply = http.get(f"{t.base}/users", params=page)
                assert reply.status_code == 200, reply.text
                listed += [e["username"] for e in reply.json()["entities"]]
                if not reply.json().get("cursor"):
                    break
                page["cursor"] = reply.json()["cursor"]
        assert name not in listed
        for reply in (one, grant):
            raw = RawResponse(reply.status_code, dict(reply.headers), reply.content)
            problem = error_body_problem(raw)
            assert problem is None, problem
        if fuzz.violations:
            pytest.fail(report(fuzz.violations))


@pytest.mark.parametrize(
    ("label", "head"),
    [
        ("100 KB request line", b"GET /acme/chat/users/" + b"a" * 100_000 + b" HTTP/1.1"),
        ("100 KB query", b"GET /health?q=" + b"b" * 100_000 + b" HTTP/1.1"),
        ("1 MB request line", b"GET /" + b"c" * 1_000_000 + b" HTTP/1.1"),
        ("100 KB header", b"GET /health HTTP/1.1\r\nX-Big: " + b"d" * 100_000),
        ("5,000 headers", b"GET /health HTTP/1.1" + b"\r\nX-Many: v" * 5_000),
        ("unknown method", b"FOO /health HTTP/1.1"),
        ("bad version", b"GET /health HTTP/7.1"),
    ],
)
def test_unparsable_requests_get_the_json_error_body(fuzz: Fuzz, label: str, head: bytes) -> None:
    """(f) What the HTTP parser refuses, or passes on, is still answered in Agora's shape."""
    with watching(fuzz.server):
        data = head + f"\r\nHost: {fuzz.host.decode()}\r\nConnection: close\r\n\r\n".encode()
        TOTAL["requests"] += 1
        response = exchange("127.0.0.1", fuzz.server.port, data)
        assert isinstance(response, RawResponse), f"{label}: {response}"
        assert response.status < 500, response.describe()
        if response.status >= 400:
            assert error_body_problem(response) is None, f"{label}: {response.describe()}"
        if fuzz.violations:
            pytest.fail(report(fuzz.violations))


@pytest.mark.parametrize("method", [b"FOO", b"CONNECT", b""])
def test_a_refused_cors_preflight_gets_the_json_error_body(fuzz: Fuzz, method: bytes) -> None:
    """A browser's preflight for a method the API does not allow is an error like any
    other: Agora's JSON body, not CORSMiddleware's plain text (found with this lane)."""
    headers = [
        (b"Host", fuzz.host),
        (b"Origin", b"http://evil.example"),
        (b"Access-Control-Request-Method", method),
    ]
    request = RawRequest(b"OPTIONS", b"/acme/chat/users", headers)
    with watching(fuzz.server):
        send(fuzz, "OPTIONS /users (preflight)", request)
        if fuzz.violations:
            pytest.fail(report(fuzz.violations))


def test_healthy_after_the_fuzz(fuzz: Fuzz) -> None:
    """Last: the server still serves a normal user, and never logged a traceback."""
    check_healthy(fuzz.tenant, "after-rest-fuzz")
