"""Hypothesis strategies for hostile REST requests, over every route the app mounts.

Routes are read from the routers themselves (a new route is fuzzed without a line here); a
request is built from parts a hostile client controls: the method, each path segment, the
query, the credential, extra headers, the body and its content type. Bodies aim where
parsers break: wrong JSON types in the fields each route reads, deep nesting, huge strings
and numbers, invalid UTF-8, and content types that are not JSON at all.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

from hypothesis import strategies as st

from kibitz.server.transport.rest.routes import ROUTERS

from .httpraw import RawRequest

__all__ = ["ROUTES", "Route", "Secrets", "cursor", "nested", "requests"]


@dataclass(frozen=True)
class Route:
    name: str  # the path template, for reports
    path: str
    methods: tuple[str, ...]


def _routes() -> list[Route]:
    found: dict[str, set[str]] = {}
    for router in ROUTERS:
        for route in router.routes:
            found.setdefault(route.path, set()).update(getattr(route, "methods", ()))  # type: ignore[attr-defined]
    extra = {
        "/health": {"GET"},
        "/websocket": {"GET"},  # msync's path, asked over plain HTTP
        "/openapi.json": {"GET"},
        "/{org_name}/{app_name}/chatgroups": {"GET", "POST"},  # Agora routes kibitz lacks
        "/{org_name}/{app_name}": {"GET"},
        "/": {"GET"},
    }
    for path, methods in extra.items():
        found.setdefault(path, set()).update(methods)
    # Banning the fuzz's own app would turn every later request into a 403 (the ban is
    # tested on its own: tests/server/transport/msync/test_app_ban.py).
    found.pop("/{org_name}/{app_name}/disable", None)
    return [Route(path, path, tuple(sorted(m))) for path, m in sorted(found.items())]


ROUTES: Final = _routes()
MOUNTED: Final = [r for r in ROUTES if "{org_name}" in r.path or r.path == "/easemob/server.json"]


@dataclass(frozen=True)
class Secrets:
    """The real credentials of the tenant under test, for bodies and headers."""

    client_id: str
    client_secret: str
    credentials: dict[str, str | None]  # a name → an Authorization value (None: no header)
    preferred: tuple[str, ...] = ()  # names drawn half of the time
    known: dict[str, tuple[bytes, ...]] = field(default_factory=dict)  # real path values


# -- values ------------------------------------------------------------------------------

HUGE_INTS: Final = [-1, 0, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30, -(10**30)]
NAMES: Final = ["alice", "bob", "carol", "admin", "nobody", "fz1", "fz-2", "fz.3"]
ODD_NAMES: Final = [
    "", ".", "..", "...", "Alice", "a b", "x" * 64, "x" * 65, "é", "a/b", "a\nb", "a\x00b",
    "\u202e", "_", "-", "admin#", "alice\n", "%2e%2e",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from(HUGE_INTS)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(NAMES + ODD_NAMES)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
names = st.sampled_from(NAMES) | st.sampled_from(ODD_NAMES) | st.text(max_size=10)


def nested(depth: int, kind: str = "arrays") -> bytes:
    """JSON nested ``depth`` deep (the value a recursive decoder dies on)."""
    if kind == "arrays":
        return b"[" * depth + b"]" * depth
    if kind == "objects":
        return b'{"a":' * depth + b"1" + b"}" * depth
    if kind == "mixed":
        return b'[{"a":' * (depth // 2) + b"0" + b"}]" * (depth // 2)
    return b"[" * depth  # unbalanced


def cursor(position: object, tail: str = "u") -> str:
    raw = f"{position}:{tail}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@st.composite
def ttls(draw: st.DrawFn) -> Any:
    return draw(
        st.sampled_from(HUGE_INTS)
        | st.sampled_from(["9" * 30, "-5", "9" * 5000, " 7 ", "1e3", "", "abc"])
        | st.floats()
        | json_values
    )


def _field_values(secrets: Secrets) -> dict[str, st.SearchStrategy[Any]]:
    grant_types = st.sampled_from(["client_credentials", "password", "agora", "inherit", "x"])
    contents = st.fixed_dictionaries(
        {},
        optional={
            "msg": st.text(max_size=20) | json_values | st.just("m" * 20_000),
            "action": st.text(max_size=10) | json_values,
            "lat": st.sampled_from([0, 91, -1e308, "NaN", "abc", None]) | st.floats(),
            "lng": st.sampled_from([0, 181, 1e308, "inf", [], {}]) | st.floats(),
            "addr": st.text(max_size=10) | json_values,
            "customEvent": st.sampled_from(["ev", "x" * 33, "bad event", ""]) | json_values,
            "customExts": st.dictionaries(st.text(max_size=5), json_values, max_size=20)
            | json_values,
        },
    )
    return {
        "grant_type": grant_types | json_values,
        "client_id": st.sampled_from([secrets.client_id, "YXA6nope"]) | json_values,
        "client_secret": st.sampled_from([secrets.client_secret, ""]) | json_values,
        "username": names | json_values,
        "password": st.sampled_from(["secret", "", "p" * 65, "é" * 40]) | json_values,
        "nickname": st.text(max_size=10) | st.just("n" * 10_000) | json_values,
        "ttl": ttls(),
        "autoCreateUser": st.booleans() | json_values,
        "usernames": st.lists(names, max_size=5)
        | st.integers(95, 110).map(lambda n: [f"u{i}" for i in range(n)])
        | json_values,
        "newpassword": st.sampled_from(["secret", "", "p" * 65]) | json_values,
        "from": names | json_values,
        "to": st.lists(names, max_size=4)
        | names
        | st.integers(599, 602).map(lambda n: [f"u{i}" for i in range(n)])
        | json_values,
        "type": st.sampled_from(["txt", "cmd", "loc", "custom", "img", "", "TXT"]) | json_values,
        "body": contents | json_values,
        "ext": st.dictionaries(st.text(max_size=5), json_values, max_size=4) | json_values,
        "routetype": st.sampled_from(["ROUTE_ONLINE", "ROUTE_ALL", ""]) | json_values,
        "sync_device": st.booleans() | json_values,
        # groups
        "groupname": names | st.just("g" * 200) | json_values,
        "desc": st.text(max_size=10) | st.just("d" * 10_000) | json_values,
        "public": st.sampled_from([True, False, "true", "no"]) | json_values,
        "membersonly": st.sampled_from([True, False, "false", 1]) | json_values,
        "allowinvites": st.sampled_from([True, "true", None]) | json_values,
        "invite_need_confirm": st.booleans() | json_values,
        "maxusers": st.sampled_from([*HUGE_INTS, "200", "x", 3000]) | json_values,
        "custom": st.text(max_size=10) | st.just("c" * 10_000) | json_values,
        "avatar": st.text(max_size=10) | json_values,
        "owner": names | json_values,
        "members": st.lists(names, max_size=4)
        | st.integers(59, 62).map(lambda n: [f"u{i}" for i in range(n)])
        | json_values,
        "newadmin": names | json_values,
    }


# The fields each JSON route reads (by the path's last segment); other routes get any.
FIELDS: Final = {
    "token": ["grant_type", "client_id", "client_secret", "username", "password", "ttl",
              "autoCreateUser"],
    "users": ["username", "password", "nickname"],
    "status": ["usernames"],
    "password": ["newpassword"],
    "messages/users": ["from", "to", "type", "body", "ext", "routetype", "sync_device"],
    "chatgroups": ["groupname", "desc", "public", "membersonly", "allowinvites",
                   "invite_need_confirm", "maxusers", "custom", "avatar", "owner", "members"],
    "{group_id}": ["groupname", "desc", "public", "membersonly", "allowinvites", "maxusers",
                   "custom", "avatar"],
    "invite": ["usernames"],
    "admin": ["newadmin"],
}  # fmt: skip


def _fields_of(path: str) -> list[str]:
    if path.endswith("/messages/users"):
        return FIELDS["messages/users"]
    return FIELDS.get(path.rsplit("/", 1)[-1], sorted({f for fs in FIELDS.values() for f in fs}))


@st.composite
def field_bodies(draw: st.DrawFn, path: str, secrets: Secrets) -> Any:
    values = _field_values(secrets)
    keys = draw(st.lists(st.sampled_from(_fields_of(path)), unique=True, max_size=7))
    obj = {k: draw(values.get(k, json_values)) for k in keys}
    if path.endswith("/users") and draw(st.integers(0, 4)) == 0:  # a batch registration
        return [obj] * draw(st.sampled_from([1, 2, 60, 61]))
    return obj


LITERAL_BODIES: Final = [
    b"", b" ", b"null", b"0", b'""', b"[]", b"{}", b"{", b"}", b"[1,]", b'{"a":1,}', b"NaN",
    b'{"ttl": NaN}', b'{"ttl": Infinity}', b'{"ttl": 1e999}', b'{"ttl": -0}',
    b'{"username": "alice", "username": 5}', b"\xef\xbb\xbf{}", b"{} trailing",
    b'{"a": "\\ud800"}', b'{"a": "\\u0000"}', b"// comment\n{}", b"'single'",
    b'{"grant_type": "password", "username": "alice", "password": 1' + b"2" * 5000 + b"}",
    b'{"limit": ' + b"9" * 5000 + b"}",
]  # fmt: skip
INVALID_UTF8: Final = [
    b"\xff\xfe\xfd", b'{"username": "\xff"}', b'{"\xc3\x28": 1}', b'{"a": "\xc0\xaf"}',
    b'{"grant_type": "password", "username": "\xed\xa0\x80", "password": "x"}',
    "{}".encode("utf-16"), b"\x00" * 16,
]  # fmt: skip


@st.composite
def bodies(draw: st.DrawFn, path: str, secrets: Secrets) -> bytes:
    kind = draw(st.sampled_from(["fields"] * 4 + ["json", "nested", "huge", "bytes", "literal"]))
    if kind == "fields":
        return json.dumps(draw(field_bodies(path, secrets))).encode()
    if kind == "json":
        return json.dumps(draw(json_values), ensure_ascii=draw(st.booleans())).encode()
    if kind == "nested":
        depth = draw(st.sampled_from([63, 64, 65, 66, 1_000, 100_000]))
        value = nested(depth, draw(st.sampled_from(["arrays", "objects", "mixed", "open"])))
        field = draw(st.sampled_from([None, *_fields_of(path)]))
        return value if field is None else b'{"' + field.encode() + b'": ' + value + b"}"
    if kind == "huge":
        size = draw(st.sampled_from([70_000, 900_000, 1_100_000]))
        field = draw(st.sampled_from(_fields_of(path)))
        return json.dumps({field: "z" * size}).encode()
    if kind == "bytes":
        return draw(st.sampled_from(INVALID_UTF8) | st.sampled_from(INVALID_UTF8) | st.binary())
    return draw(st.sampled_from(LITERAL_BODIES))


CONTENT_TYPES: Final = [
    b"application/json", b"application/json", b"application/json; charset=utf-8",
    b"application/json; charset=latin-1", b"text/plain", b"application/x-www-form-urlencoded",
    b"multipart/form-data; boundary=xyz", b"application/xml", b"%%%", b"",
]  # fmt: skip


# -- the request line -------------------------------------------------------------------

ODD_SEGMENTS: Final = [
    b"", b".", b"..", b"%2e", b"%2E%2E", b"%2F", b"a%2Fb", b"%00", b"%ff", b"%C3%A9", b"%",
    b"%zz", b"a%20b", b"ALICE", b"x" * 65, b"...", b"..;", b";", b"*", b"~", b"%25", b"%23",
    b"%3F", b"\xc3\xa9", b"\xff", b"%E2%80%AE", b"null", b"0", b"-1", b"9" * 25, b"a+b",
]  # fmt: skip
segments = (
    st.sampled_from(ODD_SEGMENTS)
    | st.text(max_size=16).map(lambda s: quote(s, safe="").encode())
    | st.integers(1, 20_000).map(lambda n: b"y" * n)
)
PLACEHOLDERS: Final = {
    "username": [b"alice", b"bob", b"carol", b"admin", b"nobody"],
    "resource": [b"r1", b"fuzz", b"webim_1"],
}
IDS: Final = [b"1", b"0", b"-1", b"123456789012345678", b"99999999999999999999", b"1,2", b"abc"]


@st.composite
def paths(draw: st.DrawFn, route: Route, secrets: Secrets) -> bytes:
    tenant = draw(st.sampled_from([(b"acme", b"chat")] * 10 + [(b"other", b"app"), (b"no", b"pe")]))
    parts: list[bytes] = []
    for part in route.path.strip("/").split("/"):
        if not part.startswith("{"):
            parts.append(part.encode())
            continue
        key = part.strip("{}")
        if draw(st.integers(0, 7)) == 0:
            parts.append(draw(segments))
        elif key == "org_name":
            parts.append(tenant[0])
        elif key == "app_name":
            parts.append(tenant[1])
        else:
            known = list(secrets.known.get(key, ()))  # a real group id, say
            parts.append(draw(st.sampled_from(known + PLACEHOLDERS.get(key, IDS))))
    path = b"/" + b"/".join(parts)
    twist = draw(st.integers(0, 19))
    if twist == 0:
        path += b"/"
    elif twist == 1:
        path += b"/" + b"/".join(draw(st.lists(segments, min_size=1, max_size=3)))
    elif twist == 2:
        path = b"/" + path
    elif twist == 3:
        path = path.replace(b"/", b"//", 1)
    return path


QUERY_KEYS: Final = {
    "/{org_name}/{app_name}/users": ["limit", "cursor"],
    "/easemob/server.json": ["app_key", "app_id"],
}
NUMBERS: Final = [
    "0", "-1", "1", "100", "101", "1.5", "1e3", "0x10", " 5", "５", "", "abc", "NaN", "9" * 30,
    "9" * 5000, "-" + "9" * 30, "10", "\x00",
]  # fmt: skip


@st.composite
def query_values(draw: st.DrawFn, key: str) -> str:
    if key in ("limit", "pagenum", "pagesize"):
        return draw(st.sampled_from(NUMBERS) | st.integers().map(str))
    if key == "resource":
        return draw(st.sampled_from(["r1", "undefined", "null", "x" * 200, "a/b"]) | names)
    if key == "cursor":
        position = draw(st.sampled_from([*HUGE_INTS, 99999999999999999999999, "x", "", "1.5"]))
        return draw(
            st.just(cursor(position, draw(st.sampled_from(["u", "", "x" * 300, ":"]))))
            | st.text(max_size=30)
            | st.sampled_from(["====", "%%%", "a" * 10_000])
        )
    if key == "app_key":
        return draw(st.sampled_from(["acme#chat", "other#app", "nope#nope", "", "#", "a#b#c"]))
    if key == "app_id":
        return draw(st.sampled_from(["", "0" * 32, "zz", "x" * 5000]) | st.text(max_size=40))
    return draw(st.text(max_size=20))


@st.composite
def queries(draw: st.DrawFn, route: Route) -> bytes:
    keys = QUERY_KEYS.get(route.path, ["limit", "cursor", "pagenum", "pagesize", "resource"])
    choice = draw(st.integers(0, 5))
    if choice == 0 or (not keys and choice < 4):
        return b""
    pairs: list[tuple[str, str]] = []
    for key in draw(st.lists(st.sampled_from([*keys, "x", "limit"]), max_size=4)):
        pairs.append((key, draw(query_values(key))))
    query = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in pairs)
    if draw(st.integers(0, 6)) == 0:
        query += draw(st.sampled_from(["&&", "&x", "=", "%zz", "&limit", "#frag"]))
    return b"?" + query.encode()


# -- headers -----------------------------------------------------------------------------


@st.composite
def authorizations(draw: st.DrawFn, secrets: Secrets) -> list[bytes]:
    names = secrets.preferred if secrets.preferred and draw(st.booleans()) else secrets.credentials
    value = secrets.credentials[draw(st.sampled_from(sorted(names)))]
    if value is None:
        return []
    twist = draw(st.integers(0, 19))
    token = value.partition(" ")[2]
    if twist == 0:
        value = "bearer " + token
    elif twist == 1:
        value = token  # no scheme
    elif twist == 2:
        value = f"Bearer {token[:-3]}"  # truncated
    elif twist == 3:
        value = f"Bearer {token}x"
    elif twist == 4:
        value = f"Basic {token}"
    raw = [value.encode()]
    if twist == 5:
        raw.append(b"Bearer other")  # two Authorization headers
    return raw


EXTRA_HEADERS: Final = [
    (b"Origin", b"http://evil.example"), (b"Access-Control-Request-Method", b"FOO"),
    (b"Access-Control-Request-Method", b"POST"), (b"Access-Control-Request-Headers", b"x, y"),
    (b"Accept", b"text/html"), (b"Accept-Encoding", b"gzip, br"), (b"Cookie", b"a=b; c"),
    (b"X-Forwarded-For", b"::1, 10.0.0.1, garbage"), (b"Connection", b"keep-alive, Upgrade"),
    (b"Upgrade", b"websocket"), (b"Expect", b"nonsense"), (b"Range", b"bytes=0-1"),
    (b"X-Unicode", "é".encode()), (b"X-Bin", b"\xff\xfe"), (b"Content-Encoding", b"gzip"),
]  # fmt: skip
METHODS: Final = [b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"HEAD", b"OPTIONS", b"TRACE"]
ODD_METHODS: Final = [b"FOO", b"get", b"PROPFIND", b"M-SEARCH", b"PURGE"]


@st.composite
def requests(draw: st.DrawFn, secrets: Secrets, host: bytes) -> tuple[str, RawRequest]:
    """One hostile request and the route it aims at; ``secrets.credentials`` decides which
    tokens it may carry."""
    route = draw(st.sampled_from(ROUTES) | st.sampled_from(MOUNTED) | st.sampled_from(MOUNTED))
    pick = draw(st.integers(0, 9))
    if pick < 8:
        method = draw(st.sampled_from(route.methods)).encode()
    elif pick < 9:
        method = draw(st.sampled_from(METHODS))
    else:
        method = draw(st.sampled_from(ODD_METHODS))
    target = draw(paths(route, secrets)) + draw(queries(route))
    headers = [(b"Host", host)]
    headers += [(b"Authorization", v) for v in draw(authorizations(secrets))]
    body = b""
    if method in (b"POST", b"PUT", b"PATCH") or draw(st.integers(0, 9)) == 0:
        body = draw(bodies(route.path, secrets))
        content_type = draw(st.sampled_from(CONTENT_TYPES))
        if content_type:
            headers.append((b"Content-Type", content_type))
    headers += draw(st.lists(st.sampled_from(EXTRA_HEADERS), max_size=2))
    if draw(st.integers(0, 19)) == 0:
        size = draw(st.sampled_from([1_000, 8_000, 60_000]))
        headers.append((b"X-Long", b"h" * size))
    chunked = bool(body) and draw(st.integers(0, 7)) == 0
    return route.name, RawRequest(method, target, headers, body, chunked)
