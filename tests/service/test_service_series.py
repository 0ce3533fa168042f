"""The plane's time series: a bounded ring, samples of its counters, reads from an index on."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from suanwang.bootstrap import journal_for
from suanwang.control.stores import Principal, Role
from suanwang.execution import AgentDispatch
from suanwang.model import Task, TaskSpec, TaskState, Topology
from suanwang.model.task import Transition
from suanwang.scenario import load_builtin
from suanwang.scheduling import resolve_profile
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.service.metrics import PlaneMetrics
from suanwang.service.series import COLUMNS, PlaneSeries, Ring
from suanwang.storage import open_store

ALICE = Principal("alice", "acme", frozenset({Role.CONSUMER}))


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def _topology() -> Topology:
    return load_builtin("metro-edge").topology


def test_a_ring_keeps_only_its_capacity_in_order() -> None:
    ring = Ring(capacity=3, width=1)
    for i in range(5):
        assert ring.append(100.0 + i, [float(i)]) == i
    indices, at_s, values = ring.since(0)
    assert indices.tolist() == [2, 3, 4]  # the two oldest were overwritten
    assert at_s.tolist() == [102.0, 103.0, 104.0]
    assert values[:, 0].tolist() == [2.0, 3.0, 4.0]
    assert (ring.first, ring.next) == (2, 5)


def test_a_ring_answers_from_an_index_on() -> None:
    ring = Ring(capacity=10, width=2)
    for i in range(4):
        ring.append(float(i), [i, -i])
    assert ring.since(2)[0].tolist() == [2, 3]
    assert ring.since(4)[0].tolist() == []  # nothing new
    # An index past the end (a reader of an earlier server) gets everything kept.
    assert ring.since(99)[0].tolist() == [0, 1, 2, 3]


def test_a_ring_refuses_no_capacity() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Ring(capacity=0, width=1)


def _completed(metrics: PlaneMetrics, budget_ms: float, took_s: float) -> None:
    spec = TaskSpec(work_gflop=1.0, ingress_site="term-futian", latency_budget_ms=budget_ms)
    history = (
        Transition(None, TaskState.PENDING, 0.0, "submitted"),
        Transition(TaskState.RUNNING, TaskState.COMPLETED, took_s, "completed"),
    )
    metrics.task_completed(Task("t", spec, "acme", history))


def test_samples_count_per_interval_and_wait_for_the_period() -> None:
    metrics, ticks = PlaneMetrics(), Ticks()
    series = PlaneSeries(metrics, period_s=5.0, capacity=4, monotonic=ticks)
    topology = _topology()
    idle = np.zeros(len(topology.arrays.node_ids))
    metrics.decisions.labels("submitted").inc(3)
    metrics.decisions.labels("placed").inc(2)
    metrics.decisions.labels("rejected:fit").inc()
    _completed(metrics, budget_ms=100.0, took_s=0.05)  # met
    assert series.observe(1000.0, topology, idle, queued=1, active=2)
    ticks.now_s = 4.9
    assert not series.observe(1004.9, topology, idle, 0, 0)  # within the period: no sample
    ticks.now_s = 5.0
    metrics.decisions.labels("submitted").inc()
    metrics.decisions.labels("expired:fit").inc()
    _completed(metrics, budget_ms=100.0, took_s=0.5)  # missed
    assert series.observe(1005.0, topology, idle, queued=0, active=1)
    window = series.read()
    assert (window.from_index, window.next) == (0, 2)
    assert window.at_s == [1000.0, 1005.0]
    assert window.columns["arrivals"] == [3.0, 1.0]  # per interval, not totals
    assert window.columns["placed"] == [2.0, 0.0]
    assert window.columns["refused"] == [1.0, 1.0]
    assert window.columns["sla_met"] == [1.0, 0.0]
    assert window.columns["sla_missed"] == [0.0, 1.0]
    assert window.columns["queued"] == [1.0, 0.0]
    assert set(window.columns) == set(COLUMNS)


def test_utilisation_per_tier_and_site_and_reads_since_an_index() -> None:
    ticks = Ticks()
    series = PlaneSeries(PlaneMetrics(), period_s=1.0, capacity=8, monotonic=ticks)
    topology = _topology()
    arrays = topology.arrays
    site_of = [arrays.vertex_ids[v] for v in arrays.node_vertex.tolist()]
    busy_site = site_of[0]
    held = np.where(
        np.array([s == busy_site for s in site_of]), arrays.node_cpu_cores / 2, 0.0
    ).astype(np.float64)
    for i in range(3):
        ticks.now_s = float(i)
        series.observe(float(i), topology, held, 0, 0)
    window = series.read(since=1, top=1)
    assert window.from_index == 1
    assert len(window.at_s) == 2
    assert list(window.sites) == [busy_site]  # the busiest site
    assert window.sites[busy_site] == [0.5, 0.5]
    tier = str(topology.sites[busy_site].tier)
    share = window.columns[f"util_{tier}"][0]
    assert share is not None
    assert 0.0 < share <= 0.5
    assert window.columns["util_terminal"] == [None, None]  # no cores at terminals
    named = series.read(since=3, sites=(site_of[-1], "no-such-site"))
    assert named.at_s == []
    assert named.from_index == named.next == 3
    assert list(named.sites) == [site_of[-1]]


def test_a_new_topology_pads_the_site_series_before_it() -> None:
    ticks = Ticks()
    series = PlaneSeries(PlaneMetrics(), period_s=1.0, capacity=8, monotonic=ticks)
    first, second = _topology(), load_builtin("campus").topology
    series.observe(0.0, first, np.zeros(len(first.arrays.node_ids)), 0, 0)
    ticks.now_s = 1.0
    series.observe(1.0, second, np.zeros(len(second.arrays.node_ids)), 0, 0)
    site = next(iter(second.sites))
    window = series.read(sites=(site,))
    assert window.sites[site] == [None, 0.0]


def test_the_plane_samples_arrivals_on_its_tick(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'plane.db'}") as stores:
        plane = ControlPlane(
            stores,
            journal_for(stores),
            load_builtin("metro-edge"),
            resolve_profile("cats-joint"),
            dispatch=AgentDispatch,
            agents=AgentPolicy(require_agent=False),
            series_period_s=0.01,
        )
        plane.start()
        try:
            for _ in range(3):
                plane.submit(ALICE, TaskSpec(work_gflop=5.0, ingress_site="term-futian")).result(30)
            deadline = time.monotonic() + 15.0
            arrivals = 0.0
            while time.monotonic() < deadline and arrivals < 3:
                plane.record(ALICE, "test.tick", "x").result(30)  # lets the writer tick
                counts = plane.series.read().columns["arrivals"]
                arrivals = sum(v or 0.0 for v in counts)
                if arrivals < 3:
                    time.sleep(0.2)
            assert arrivals == 3
        finally:
            plane.stop()
