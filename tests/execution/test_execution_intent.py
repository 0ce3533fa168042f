"""End to end: an intent predicted in a fork of the live plane, then met live on real agents.

A real server and three real agent processes (one worker each) on loopback. A batch intent
(three CPU jobs due within ten minutes, at the users' site) is dry-run through the API, which
answers the fork's predicted SLA share, then applied; the agents run the jobs (real arithmetic
sized to their declared work) and report them. The server's own assurance (every 5 s) measures
the intent's share of ended jobs within their deadline over its window: it must lie within 10
points of the prediction stored with the intent, with the status ``met``, in under a minute.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from waits import until

from suanwang.cli.localnet import THREE_SITES_NODES, USERS_SITE, LocalNet, write_three_sites

INTENT = {
    "version": 1,
    "name": "nightly-reports",
    "need": {"kind": "batch-analytics", "jobs": 3},
    "coverage": {"sites": [USERS_SITE]},
    "quality": {"deadline_s": 600.0},
}
TARGET_POINTS = 10.0
BOUND_S = 60.0


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    folder: Path = tmp_path_factory.mktemp("intent")
    local = LocalNet(folder / "data", scenario=str(write_three_sites(folder)))
    try:
        local.start_server()
        for node in THREE_SITES_NODES:
            local.start_agent(node, interval_s=0.5)
        local.wait_heartbeats(list(THREE_SITES_NODES))
        yield local
    finally:
        local.close()


def _until(what: str, check: Any, timeout_s: float, pause_s: float = 0.2) -> Any:
    return until(what, check, timeout_s, pause_s)


def _assessed(client: httpx.Client, intent_id: str, jobs: int) -> dict[str, Any] | None:
    """The intent once assurance has judged every one of its ``jobs`` (else None)."""
    doc: dict[str, Any] = client.get(f"/v1/intents/{intent_id}").raise_for_status().json()
    return doc if doc["assurance"]["judged"] >= jobs else None


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_an_intent_predicted_in_the_fork_is_met_live_on_real_agents(net: LocalNet) -> None:
    started = time.monotonic()
    with net.client() as client:
        dry = client.post("/v1/intents", params={"dry_run": "true"}, json=INTENT)
        assert dry.status_code == 200, dry.text
        plan = dry.json()
        predicted = plan["prediction"]["sla_met_fraction"]
        assert plan["prediction"]["placed"] == 3
        assert client.get("/v1/intents").json() == []  # the dry run stored nothing

        applied = client.post("/v1/intents", json=INTENT)
        assert applied.status_code == 201, applied.text
        intent = applied.json()["intent"]
        jobs = len(intent["task_ids"])
        assert jobs == 3
        stored = intent["prediction"]["sla_met_fraction"]
        assert abs(stored - predicted) * 100 <= TARGET_POINTS  # the same plane, a moment later

        def judged() -> dict[str, Any] | None:
            return _assessed(client, intent["id"], jobs)

        doc = _until("assurance judged every job", judged, BOUND_S - (time.monotonic() - started))
        tasks = [client.get(f"/v1/tasks/{t}").json() for t in intent["task_ids"]]
    assert {t["state"] for t in tasks} == {"completed"}  # run on the agents, not simulated
    assert {t["placement"]["node_id"] for t in tasks} <= set(THREE_SITES_NODES)
    assurance = doc["assurance"]
    assert assurance["style"] == "request"
    assert assurance["predicted"] == stored
    measured = assurance["measured"]
    assert abs(measured - stored) * 100 <= TARGET_POINTS, (measured, stored)
    assert doc["status"] == "met", doc["history"]
    assert time.monotonic() - started < BOUND_S
