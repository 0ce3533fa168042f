"""/metrics after real task transitions: SLA per class, reserved share and node states per site."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import CPU_TASK, PROVIDER_NODE, Api, make_settings, seed_principals
from attest_support import quarantine
from prometheus_client.parser import text_string_to_metric_families

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note on httpx
    from fastapi.testclient import TestClient

from suanwang.api import create_app
from suanwang.control.stores import Principal, Role
from suanwang.service.plane import ControlPlane


class ManualClock:
    """The plane's clock, moved by the test (thread-safe, never backwards)."""

    def __init__(self) -> None:
        self._now_s = 1_800_000_000.0
        self._lock = threading.Lock()

    def now_s(self) -> float:
        with self._lock:
            return self._now_s

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now_s += seconds


@pytest.fixture
def clocked(tmp_path: Path) -> Iterator[tuple[Api, ManualClock]]:
    clock = ManualClock()
    settings = make_settings(tmp_path)
    tokens = seed_principals(settings)
    with TestClient(create_app(settings, clock)) as client:
        yield Api(client, settings, tokens), clock


def samples(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page by (name, sorted labels)."""
    page = api.call("ops", "GET", "/metrics")
    assert page.status_code == 200
    out = {}
    for family in text_string_to_metric_families(page.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def tick(api: Api) -> None:
    """Run the writer's tick now (the per-site gauges refresh there, not per request)."""
    plane: ControlPlane = api.client.app.state.plane  # type: ignore[attr-defined]
    plane._worker.call(plane._tick).result(30)


def finish(api: Api, task: dict[str, object]) -> None:
    node = task["placement"]["node_id"]  # type: ignore[index]
    agent = f"agent-{node}"
    if agent not in api.tokens:
        api.add_principal(
            Principal(agent, "acme-compute", frozenset({Role.AGENT}), frozenset({node}))
        )
    path = f"/v1/tasks/{task['id']}/report"
    for event in ("started", "finished"):
        body = {"node_id": node, "event": event, "reason": "ok"}
        assert api.call(agent, "POST", path, json=body).status_code == 200


def test_completed_tasks_are_counted_by_class_and_sla(
    clocked: tuple[Api, ManualClock],
) -> None:
    api, clock = clocked
    spec = {**CPU_TASK, "latency_budget_ms": 2000.0, "task_class": "warm"}
    on_time, late = api.submit("alice", spec), api.submit("alice", spec)
    clock.advance(0.5)
    finish(api, on_time)
    clock.advance(10.0)  # past the 2 s budget
    finish(api, late)
    no_budget = api.submit("alice", {**CPU_TASK, "task_class": "hot"})
    finish(api, no_budget)
    seen = samples(api)
    finished = "suanwang_tasks_finished_total"
    assert seen[(finished, (("class", "warm"), ("sla", "met")))] == 1.0
    assert seen[(finished, (("class", "warm"), ("sla", "missed")))] == 1.0
    assert seen[(finished, (("class", "hot"), ("sla", "met")))] == 1.0  # nothing to miss
    assert seen[("suanwang_task_seconds_count", (("class", "warm"),))] == 2.0
    assert seen[("suanwang_task_seconds_sum", (("class", "warm"),))] == pytest.approx(11.0)


def test_sites_report_their_reserved_share_and_node_states(api: Api) -> None:
    task = api.submit("alice", {**CPU_TASK, "cpu_cores": 4.0, "mem_gib": 8.0})
    node = task["placement"]["node_id"]
    assert api.call("ops", "POST", f"/v1/nodes/{node}/down", json={"reason": "test"}).is_success
    tick(api)
    seen = samples(api)
    plane: ControlPlane = api.client.app.state.plane  # type: ignore[attr-defined]
    topology = plane.live.scenario.topology
    ratio = "suanwang_site_reserved_ratio"
    site_nodes = "suanwang_site_nodes"
    for site in topology.sites:
        nodes = topology.nodes_at(site)
        counted = sum(
            seen[(site_nodes, (("site", site), ("state", s)))]
            for s in ("up", "draining", "down", "no-agent", "quarantined")
        )
        assert counted == len(nodes)
        if nodes:
            assert 0.0 <= seen[(ratio, (("resource", "cpu"), ("site", site)))] <= 1.0
    down_site = topology.nodes[node].site_id
    assert seen[(site_nodes, (("site", down_site), ("state", "down")))] == 1.0
    # The task moved off the down node and still holds its cores somewhere.
    held = [
        value
        for (name, labels), value in seen.items()
        if name == ratio and ("resource", "cpu") in labels and value > 0
    ]
    assert held
    kinds = {dict(labels)["resource"] for (name, labels) in seen if name == ratio}
    assert {"cpu", "memory"} <= kinds
    assert any(kind.startswith("accel:") for kind in kinds)  # metro-edge has GPUs


def test_a_new_topology_replaces_the_sites_series(api: Api) -> None:
    tick(api)
    before = {
        dict(labels)["site"] for (name, labels) in samples(api) if name == "suanwang_site_nodes"
    }
    loaded = api.call("admin", "POST", "/v1/scenarios/live", json={"builtin": "cats-arvr"})
    assert loaded.is_success, loaded.text
    tick(api)
    after = {
        dict(labels)["site"] for (name, labels) in samples(api) if name == "suanwang_site_nodes"
    }
    plane: ControlPlane = api.client.app.state.plane  # type: ignore[attr-defined]
    assert after == set(plane.live.scenario.topology.sites)
    assert after != before


def test_quarantined_nodes_are_counted_in_all_and_per_site(api: Api) -> None:
    tick(api)
    before = samples(api)
    assert before[("suanwang_nodes_quarantined", ())] == 0.0
    reason = quarantine(api.client, api.auth("admin"), PROVIDER_NODE)
    assert reason.startswith("wrong result")
    tick(api)
    seen = samples(api)
    assert seen[("suanwang_nodes_quarantined", ())] == 1.0
    plane: ControlPlane = api.client.app.state.plane  # type: ignore[attr-defined]
    site = plane.live.scenario.topology.nodes[PROVIDER_NODE].site_id
    site_nodes = "suanwang_site_nodes"

    def at_site(
        samples_: dict[tuple[str, tuple[tuple[str, str], ...]], float], state: str
    ) -> float:
        return samples_[(site_nodes, (("site", site), ("state", state)))]

    assert at_site(seen, "quarantined") == 1.0
    # Counted once, as quarantined: no longer up, and not as down besides.
    assert at_site(seen, "up") == at_site(before, "up") - 1.0
    assert at_site(seen, "down") == at_site(before, "down")
