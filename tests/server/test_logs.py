"""``kibitz serve`` logs its own records as JSON objects with KIBITZ_LOG_FORMAT=json (one per
line, for a log shipper), and never a secret or a body."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from tests.conftest import LiveServer


def test_json_log_lines(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(KIBITZ_LOG_FORMAT="json")
    created = server.create_app("acme", "logs")
    server.start()
    # Startup logs at least one kibitz record (the file store, thumbnails); a token grant
    # must leave neither the secret nor the token in the log.
    token = httpx.post(
        f"{server.rest}/acme/logs/token",
        json={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
        timeout=10,
    ).json()["access_token"]
    assert httpx.get(f"{server.rest}/metrics", timeout=10).status_code == 200
    server.stop()
    assert server.log_path is not None
    ours = []
    for line in server.log_path.read_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            assert {"event", "level", "logger", "timestamp"} <= set(record), record
            ours.append(record)
    assert ours and all(r["logger"].startswith("kibitz") for r in ours)
    text = server.log_path.read_text()
    assert created["client_secret"] not in text and token not in text
