"""Per-tenant submission rates: a flood from one tenant is limited, others go through."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from api_support import CPU_TASK, make_settings, seed_principals

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from suanwang.api import create_app
from suanwang.api.limits import SubmitLimiter, retry_after_header

BURST = 5


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_a_bucket_refills_at_the_rate_and_holds_at_most_the_burst() -> None:
    clock = FakeClock()
    limiter = SubmitLimiter(rate_per_s=2.0, burst=3, clock=clock)
    assert [limiter.admit("acme") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.admit("acme") == pytest.approx(0.5)  # one token takes 1/2 s
    assert limiter.admit("globex") == 0.0  # its own bucket
    clock.now_s += 0.5
    assert limiter.admit("acme") == 0.0
    clock.now_s += 3600.0  # a long pause refills to the burst, not beyond
    assert [limiter.admit("acme") for _ in range(4)][-1] > 0.0


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    assert retry_after_header(0.01) == {"Retry-After": "1"}
    assert retry_after_header(2.2) == {"Retry-After": "3"}


def test_a_flood_from_one_tenant_is_limited_while_another_goes_through(tmp_path: Path) -> None:
    # A rate far below the test's pace: the first BURST pass, every later one is refused.
    settings = make_settings(tmp_path, submit_rate_per_s=0.01, submit_burst=BURST)
    tokens = seed_principals(settings)
    alice = {"Authorization": f"Bearer {tokens['alice']}"}
    bob = {"Authorization": f"Bearer {tokens['bob']}"}
    with TestClient(create_app(settings)) as client:
        statuses = [
            client.post("/v1/tasks", json=CPU_TASK, headers=alice).status_code
            for _ in range(BURST * 4)
        ]
        assert all(status < 300 for status in statuses[:BURST]), statuses
        assert statuses[BURST:] == [429] * (BURST * 3)
        refused = client.post("/v1/tasks", json=CPU_TASK, headers=alice)
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        assert "tenant acme is over its limit" in refused.json()["detail"]
        for _ in range(BURST):
            assert client.post("/v1/tasks", json=CPU_TASK, headers=bob).status_code < 300
        # Reads are not submissions: the limited tenant still lists its tasks.
        listed = client.get("/v1/tasks", headers=alice)
        assert listed.status_code == 200
        assert len(listed.json()["items"]) == BURST


def test_no_limit_by_default(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    tokens = seed_principals(settings)
    alice = {"Authorization": f"Bearer {tokens['alice']}"}
    with TestClient(create_app(settings)) as client:
        for _ in range(150):  # more than the default burst would allow
            assert client.post("/v1/tasks", json=CPU_TASK, headers=alice).status_code < 300
