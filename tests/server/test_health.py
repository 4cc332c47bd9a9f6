from __future__ import annotations

import pytest

from tests.conftest import AppHarness

pytestmark = pytest.mark.anyio


async def test_health_answers_200_when_ready(harness: AppHarness) -> None:
    response = await harness.http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
