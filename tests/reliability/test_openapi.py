"""The served ``/openapi.json`` is complete, and kibitz survives schemathesis driven by it.

The document is checked against what the server does, not against a list kept here: an
operation that answers 401 without a credential must declare the Bearer scheme, and one
that answers 400 ``json_parse`` to a broken body must declare its request body. Then
schemathesis (examples, coverage and fuzzing phases, positive and negative data) calls
every operation of a real ``kibitz serve`` with a valid app token, on a bounded budget:
no 5xx, answers as documented, no traceback in the server's log.

``KIBITZ_TEST_SCHEMATHESIS_SEED`` / ``KIBITZ_TEST_SCHEMATHESIS_EXAMPLES`` run it elsewhere
or deeper (the default is one fixed seed, so a failure here reproduces).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis import engine
from schemathesis.engine import Status, events

from tests.conftest import AppHarness, LiveServer

from .figures import record

BEARER = "bearerAuth"
REQUIRED = [{BEARER: []}]
OPTIONAL = [{}, {BEARER: []}]
METHODS = ("get", "post", "put", "patch", "delete")
SEED = int(os.environ.get("KIBITZ_TEST_SCHEMATHESIS_SEED", "20261201"))
EXAMPLES = int(os.environ.get("KIBITZ_TEST_SCHEMATHESIS_EXAMPLES", "50"))
# The run stops there and fails (a slow or stuck server): ~4x what 50 examples of one
# operation take here (0.3 s on a quiet machine, 1.2 s with every lane of make test
# running beside it), for every operation the document has.
SECONDS_PER_OPERATION = 2.0 * max(1.0, EXAMPLES / 50)
PATH_VALUES = {
    "username": "alice",
    "resource": "webim_web_1",
    "group_id": "1",
    "group_ids": "1",
    "usernames": "alice",
    "which": "white",
    "friend": "bob",
    "blocked": "bob",
    "file_uuid": "6f1c9a52-2f7e-4a51-9a0e-6a4c2b1d9e01",
    "status": "1",  # presence
    "expiry": "3600",
    "file_id": "6f1c9a52-2f7e-4a51-9a0e-6a4c2b1d9e02",  # group shared files
    "msg_id": "1",  # group read receipts
}


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def binary(op: dict[str, Any]) -> bool:
    """A download: its 200 is the file's bytes, not JSON."""
    return "*/*" in op["responses"]["200"].get("content", {})


def reads_json(op: dict[str, Any]) -> bool:
    """Reads a JSON body (an upload reads a multipart form instead)."""
    return "application/json" in op.get("requestBody", {}).get("content", {})


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


async def served_document(h: AppHarness) -> dict[str, Any]:
    response = await h.http.get("/openapi.json")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def url_of(h: AppHarness, path: str, op: dict[str, Any]) -> str:
    """The operation's URL for the harness app, with its required query parameters."""
    values = {"org_name": h.app.org_name, "app_name": h.app.app_name, **PATH_VALUES}
    url = path.format(**values)
    query = [p["name"] for p in op.get("parameters", []) if p["in"] == "query" and p["required"]]
    return url + ("?" + "&".join(f"{name}=1" for name in query) if query else "")


# -- the document --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_document_is_valid_openapi_with_agoras_shapes(harness: AppHarness) -> None:
    document = await served_document(harness)
    schemathesis.openapi.from_dict(document).validate()  # OpenAPI 3.1 meta-schema
    components = document["components"]
    for ref in set(refs(document)):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in components["schemas"], f"{ref} does not resolve"
    scheme = components["securitySchemes"][BEARER]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    ops = list(operations(document))
    assert len(ops) >= 37
    ids = Counter(op["operationId"] for _, _, op in operations(document))
    assert all(n == 1 for n in ids.values()), ids
    for path, method, op in ops:
        label = f"{method.upper()} {path}"
        responses = op["responses"]
        assert "422" not in responses, label  # validation failures are Agora's 400
        if not binary(op):
            assert responses["200"]["content"]["application/json"]["schema"], label
        errors = {status: r for status, r in responses.items() if not status.startswith("2")}
        assert {"400", "404"} <= set(errors), label
        for status, response in errors.items():
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (label, status)
        if op.get("security") == REQUIRED:
            assert "401" in errors, label
        if "requestBody" in op:
            assert op["requestBody"]["required"] is True, label
            assert "413" in errors, label
    assert set(components["schemas"]["ErrorBody"]["required"]) == {
        "error",
        "exception",
        "timestamp",
        "duration",
        "error_description",
    }


@pytest.mark.anyio
async def test_every_operation_that_needs_a_credential_declares_bearer(harness: AppHarness) -> None:
    """Without a token: 401 exactly where the document asks for one; none where it is
    optional (the token grants) or absent (discovery)."""
    h = harness
    document = await served_document(h)
    checked = 0
    for path, method, op in operations(document):
        body = {"json": {}} if "requestBody" in op else {}
        response = await h.http.request(method, url_of(h, path, op), **body)
        label = f"{method.upper()} {path} → {response.status_code} {response.text[:200]}"
        security = op.get("security")
        assert security in (REQUIRED, OPTIONAL, None), label
        assert (response.status_code == 401) == (security == REQUIRED), label
        checked += 1
    assert checked >= 37


@pytest.mark.anyio
async def test_every_operation_that_reads_a_body_declares_it(harness: AppHarness) -> None:
    """With an app token and a broken JSON body: 400 json_parse exactly where the
    document declares a request body (the routes read bodies by hand, so FastAPI cannot
    tell)."""
    h = harness
    document = await served_document(h)
    readers = []
    for path, method, op in operations(document):
        response = await h.http.request(
            method,
            url_of(h, path, op),
            content=b'{"grant_type": ',
            headers={**h.admin_headers(), "Content-Type": "application/json"},
        )
        parsed = response.status_code == 400 and response.json()["error"] == "json_parse"
        label = f"{method.upper()} {path} → {response.status_code} {response.text[:200]}"
        assert parsed == reads_json(op), label
        if parsed:
            readers.append(f"{method.upper()} {path}")
    assert "POST /{org_name}/{app_name}/token" in readers, readers


# -- schemathesis against a real server ----------------------------------------------------


def app_token(server: LiveServer) -> str:
    created = server.create_app("acme", "chat")
    response = httpx.post(
        f"{server.rest}/acme/chat/token",
        json={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def failure_report(recorder: Any, check: Any) -> str:
    info = check.failure_info
    return f"{recorder.label} [{check.name}] {info.failure.title}\n    {info.code_sample}"


def test_schemathesis_finds_no_server_error(live_server: LiveServer) -> None:
    token = app_token(live_server)
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "request-timeout": 10,
            "auth": {"openapi": {BEARER: {"bearer": token}}},
            "parameters": {"path.org_name": "acme", "path.app_name": "chat"},
            "generation": {"max-examples": EXAMPLES},
            "phases": {"stateful": {"enabled": False}},
            "cache": {"enabled": False},  # no .schemathesis/ in the work tree
            "checks": {
                # Agora answers 400 to requests the schema allows but the state refuses
                # (invalid_grant, a taken username, a stale cursor): not a defect.
                "positive_data_acceptance": {"enabled": False},
                # A concrete URL can match two templates (/users/batch/status and
                # /users/{username}/status): its 405 Allows both, as HTTP wants, where this
                # check expects one template's methods (test_a_405_allows_… checks Allow).
                "allow_header_conformance": {"enabled": False},
            },
        }
    )
    schema = schemathesis.openapi.from_url(f"{live_server.rest}/openapi.json", config=config)
    # Banning the app would turn every later call into a 403: the ban has its own tests.
    schema = schema.exclude(path_regex=r"/disable$")
    deadline_s = SECONDS_PER_OPERATION * sum(
        1 for item in schema.raw_schema["paths"].values() for method in METHODS if method in item
    )
    started = time.monotonic()
    operations_run: set[str] = set()
    requests = 0
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    errors: list[str] = []
    finished: events.EngineFinished | None = None
    stream = engine.from_schema(schema).execute()
    for event in stream:
        if time.monotonic() - started > deadline_s:
            stream.stop()
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            operations_run.add(recorder.label)
            requests += len(recorder.interactions)
            for interaction in recorder.interactions.values():
                if interaction.response is not None:
                    statuses[f"{interaction.response.status_code // 100}xx"] += 1
            for checks in recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failures.append(failure_report(recorder, check))
        elif isinstance(event, events.NonFatalError | events.FatalError):
            errors.append(repr(event))
        elif isinstance(event, events.EngineFinished):
            finished = event
    elapsed = time.monotonic() - started
    record(
        "schemathesis",
        operations=len(operations_run),
        requests=requests,
        failures=len(failures),
        seconds=round(elapsed, 1),
        seed=SEED,
        **dict(sorted(statuses.items())),
    )
    assert finished is not None and not errors, errors
    assert elapsed <= deadline_s, f"schemathesis stopped after {elapsed:.0f} s"
    assert len(operations_run) >= 20, sorted(operations_run)
    assert "5xx" not in statuses
    assert not failures, "\n".join(sorted(set(failures))[:400])
    assert live_server.log_path is not None
    log = live_server.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[max(0, log.index("Traceback") - 2000) :][:6000]


# -- what the schemathesis run found -------------------------------------------------------


@pytest.mark.anyio
async def test_a_405_allows_every_method_of_the_path(harness: AppHarness) -> None:
    h = harness
    for path, expected in (
        ("/users", {"GET", "POST", "DELETE"}),
        ("/users/alice", {"GET", "DELETE"}),
    ):
        response = await h.http.request("OPTIONS", h.base + path, headers=h.admin_headers())
        assert response.status_code == 405, response.text
        allowed = {m.strip() for m in response.headers["allow"].split(",")} - {"HEAD"}
        assert allowed == expected, (path, response.headers["allow"])


@pytest.mark.anyio
async def test_a_location_refuses_booleans_for_degrees(harness: AppHarness) -> None:
    """``float(True)`` is 1.0: ``"lat": true`` was sent as a location at 1°."""
    h = harness
    body = {"to": ["bob"], "type": "loc", "body": {"lat": True, "lng": "2.5", "addr": "x"}}
    response = await h.http.post(f"{h.base}/messages/users", json=body, headers=h.admin_headers())
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "illegal_argument"
    body["body"]["lat"] = "1.5"
    response = await h.http.post(f"{h.base}/messages/users", json=body, headers=h.admin_headers())
    assert response.status_code == 200, response.text
