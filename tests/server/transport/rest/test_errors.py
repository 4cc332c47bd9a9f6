"""Bad input and framework-level failures keep Agora's error body; CORS for browsers."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from starlette.requests import Request

from kibitz.protocol import ChatError, ErrorCode
from kibitz.server.transport.rest.errors import REST_ERRORS, chat_error_response
from tests.conftest import AppHarness, LiveServer

from .support import assert_error, bearer

pytestmark = pytest.mark.anyio


async def _post_raw(h: AppHarness, path: str, content: Any, **headers: str) -> Any:
    all_headers = {**h.admin_headers(), "Content-Type": "application/json", **headers}
    return await h.http.post(h.base + path, content=content, headers=all_headers)


@pytest.mark.parametrize("content", [b"{", b"{'username': 'a'}", b"\xff\xfe", b"[1,]", b"NaN"])
async def test_malformed_json_is_json_parse(harness: AppHarness, content: bytes) -> None:
    err = assert_error(await _post_raw(harness, "/users", content), 400, "json_parse")
    assert err["error_description"].startswith("Unexpected character.")


async def test_empty_body_is_illegal_argument(harness: AppHarness) -> None:
    assert_error(await _post_raw(harness, "/users", b""), 400, "illegal_argument")


async def test_wrong_query_type_is_illegal_argument(harness: AppHarness) -> None:
    response = await harness.http.get(
        f"{harness.base}/users?limit=many", headers=harness.admin_headers()
    )
    err = assert_error(response, 400, "illegal_argument")
    assert err["error_description"].startswith("limit:")


async def test_unknown_route_is_404_with_agora_body(harness: AppHarness) -> None:
    response = await harness.http.get(f"{harness.base}/nothing/here")
    assert_error(response, 404, "service_resource_not_found")


async def test_wrong_method_is_405_with_agora_body(harness: AppHarness) -> None:
    response = await harness.http.patch(f"{harness.base}/users/alice")
    assert_error(response, 405, "unsupported_service_operation")
    assert "GET" in response.headers["allow"]


async def test_oversized_body_by_content_length_is_413(
    harness_factory: Callable[..., Any],
) -> None:
    h: AppHarness = await harness_factory(max_body_bytes=2048)
    response = await _post_raw(h, "/users", b'{"username": "' + b"a" * 4096 + b'"}')
    assert_error(response, 413, "request_entity_too_large")


async def test_oversized_streamed_body_is_413(harness_factory: Callable[..., Any]) -> None:
    h: AppHarness = await harness_factory(max_body_bytes=2048)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"username": "'
        for _ in range(10):
            yield b"a" * 512
        yield b'"}'

    response = await h.http.post(
        f"{h.base}/users",
        content=chunks(),
        headers={**h.admin_headers(), "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "request_entity_too_large")
    assert await h.services.accounts.page(h.app, 10, None) == ([], None)


async def test_body_under_the_limit_is_accepted(harness_factory: Callable[..., Any]) -> None:
    h: AppHarness = await harness_factory(max_body_bytes=2048)
    response = await _post_raw(
        h, "/users", b'{"username": "alice", "nickname": "' + b"n" * 90 + b'"}'
    )
    assert response.status_code == 200


async def test_default_body_limit_is_one_mib(harness: AppHarness) -> None:
    assert harness.services.settings.max_body_bytes == 1024 * 1024
    response = await _post_raw(harness, "/users", b" " * (1024 * 1024 + 1))
    assert_error(response, 413, "request_entity_too_large")


async def test_cors_preflight(harness: AppHarness) -> None:
    response = await harness.http.options(
        f"{harness.base}/token",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


async def test_cors_headers_on_success_and_error(harness: AppHarness) -> None:
    origin = {"Origin": "http://localhost:3000"}
    ok = await harness.http.get(
        f"{harness.base}/users", headers={**origin, **harness.admin_headers()}
    )
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "*"
    err = await harness.http.get(f"{harness.base}/users", headers=origin)
    assert err.status_code == 401 and err.headers["access-control-allow-origin"] == "*"


async def test_cors_origins_are_configurable(harness_factory: Callable[..., Any]) -> None:
    h: AppHarness = await harness_factory(cors_origins=["https://chat.example"])
    preflight = {"Access-Control-Request-Method": "GET"}
    good = await h.http.options(
        f"{h.base}/users", headers={"Origin": "https://chat.example", **preflight}
    )
    assert good.headers["access-control-allow-origin"] == "https://chat.example"
    bad = await h.http.options(f"{h.base}/users", headers={"Origin": "https://evil", **preflight})
    assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers


@pytest.mark.parametrize(
    "header",
    ["Basic YWxhZGRpbjpvcGVu", "Bearer", "Bearer not-a-token", "Bearer 007AAAA", "Bearer eyJ.x.y"],
)
async def test_malformed_credentials_are_401(harness: AppHarness, header: str) -> None:
    response = await harness.http.get(f"{harness.base}/users", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"] in ("unauthorized", "auth_bad_access_token")


async def test_corrupt_token_is_auth_bad_access_token(harness: AppHarness) -> None:
    token = harness.app_token()
    corrupt = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = await harness.http.get(f"{harness.base}/users", headers=bearer(corrupt))
    err = assert_error(response, 401, "auth_bad_access_token")
    assert err["error_description"] == "Unable to authenticate due to corrupt access token."


async def test_missing_token_is_unauthorized(harness: AppHarness) -> None:
    err = assert_error(await harness.http.get(f"{harness.base}/users"), 401, "unauthorized")
    assert err["error_description"] == "Unable to authenticate due to expired access token."


def test_every_mapped_code_has_an_error_status() -> None:
    for code, spec in REST_ERRORS.items():
        assert 400 <= spec.status < 600, code
        assert spec.error and spec.exception


async def test_chat_errors_map_to_documented_statuses(harness: AppHarness) -> None:
    """The domain's codes reach clients with the status and string of agora-rest.md §6.2."""
    request = Request({"type": "http", "app": harness.asgi, "headers": [], "method": "GET"})
    expected = {
        ErrorCode.INVALID_APP_KEY: (404, "organization_application_not_found"),
        ErrorCode.USER_NOT_FOUND: (404, "service_resource_not_found"),
        ErrorCode.USER_ALREADY_EXIST: (400, "duplicate_unique_property_exists"),
        ErrorCode.INVALID_USER_NAME: (400, "illegal_argument"),
        ErrorCode.INVALID_TOKEN: (401, "auth_bad_access_token"),
        ErrorCode.USER_AUTHENTICATION_FAILED: (401, "unauthorized"),
        ErrorCode.SERVER_BUSY: (429, "reach_limit"),
    }
    for code, (status, error) in expected.items():
        response = chat_error_response(request, ChatError(code, "why"))
        assert response.status_code == status
        assert error.encode() in response.body and b'"why"' in response.body


@pytest.mark.parametrize("path", ["/users", "/token", "/messages/users"])
async def test_deeply_nested_json_is_json_parse(harness: AppHarness, path: str) -> None:
    content = b"[" * 1_000 + b"]" * 1_000
    err = assert_error(await _post_raw(harness, path, content), 400, "json_parse")
    assert "nested deeper" in err["error_description"]


def test_a_request_http_cannot_parse_gets_the_agora_body(live_server: LiveServer) -> None:
    """uvicorn answers these itself, before any app code: a 100 KB request line, garbage."""
    long_line = b"GET /health?x=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    for request in (long_line, b"GARBAGE\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
            sock.sendall(request)
            raw = b""
            while b"\r\n\r\n" not in raw or not raw.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                raw += chunk
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), head
        assert b"content-type: application/json" in head.lower()
        assert json.loads(body)["error"] == "illegal_argument"


async def test_a_body_cut_short_is_a_400_not_a_traceback() -> None:
    """The client hung up mid-body (found by the REST fuzz: ClientDisconnect, a 500 and a
    traceback in the log)."""
    from kibitz.server.transport.rest.deps import read_json
    from kibitz.server.transport.rest.errors import RestError

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    request = Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)
    with pytest.raises(RestError) as err:
        await read_json(request)
    assert err.value.status == 400
