"""``/metrics`` moves with what the server does: sessions, logins, sends and their latency,
commits, REST errors and rate refusals — and never carries a name, a token or a body."""

from __future__ import annotations

import re

import pytest

from kibitz.protocol._msync import pb

from .conftest import Gateway
from .test_group_moderation import rest

pytestmark = pytest.mark.anyio


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)"
    found = re.search(r"^" + pattern + r"$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def scrape(gateway: Gateway) -> str:
    response = await gateway.harness.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_the_figures_move(gateway: Gateway) -> None:
    before = await scrape(gateway)
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    a = await gateway.client(alice, "a1")
    await gateway.client(bob, "b1")
    for n in range(3):
        assert (await a.send_text("bob", f"secret words {n}")).status.error_code == pb.Status.OK
    assert (await a.send_text("nobody", "x")).status.error_code != pb.Status.OK
    await rest(gateway, "PUT", "/settings", json={"rest_rate_per_s": 1})
    h = gateway.harness
    for _ in range(4):
        await h.http.get(f"{h.base}/users/ghost", headers=h.admin_headers())
    after = await scrape(gateway)

    assert sample(after, "kibitz_sessions") == 2
    grew = {
        ("kibitz_logins_total", (("outcome", "ok"),)): 2,
        ("kibitz_sends_total", (("kind", "user"), ("outcome", "ok"))): 3,
        ("kibitz_sends_total", (("kind", "user"), ("outcome", "refused"))): 1,
        ("kibitz_send_seconds_count", ()): 3,
        ("kibitz_rest_errors_total", (("status", "404"),)): 2,
        ("kibitz_rest_errors_total", (("status", "429"),)): 2,
        ("kibitz_rate_limited_total", (("what", "rest"),)): 2,
    }
    for (name, labels), delta in grew.items():
        moved = sample(after, name, **dict(labels)) - sample(before, name, **dict(labels))
        assert moved == delta, (name, labels, moved)
    assert sample(after, "kibitz_commit_seconds_count") > sample(
        before, "kibitz_commit_seconds_count"
    )
    assert sample(after, "kibitz_committed_jobs_total") >= 3
    assert "kibitz_writer_queue" in after
    for private in ("alice", "bob", "secret words", h.app.client_secret, h.app.app_key):
        assert private not in after
