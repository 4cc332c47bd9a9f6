from __future__ import annotations

import pytest

from kibitz.server.storage.engine import create_engine
from tests.conftest import AppHarness

pytestmark = pytest.mark.anyio


async def test_health_answers_200_when_ready(harness: AppHarness) -> None:
    response = await harness.http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_checks_the_database(harness: AppHarness) -> None:
    response = await harness.http.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready"}
    await harness.services.engine.dispose()  # a pool gone is reopened: still ready
    assert (await harness.http.get("/ready")).status_code == 200


async def test_ready_says_what_is_down(harness: AppHarness) -> None:
    services = harness.services
    original = services.engine
    services.engine = create_engine("postgresql+asyncpg://kibitz@127.0.0.1:1/nothing-listens-here")
    try:
        response = await harness.http.get("/ready")
    finally:
        await services.engine.dispose()
        services.engine = original
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "failed": ["database"]}


async def test_docs_serve_the_openapi_ui(harness: AppHarness) -> None:
    response = await harness.http.get("/docs")
    assert response.status_code == 200 and "openapi.json" in response.text
