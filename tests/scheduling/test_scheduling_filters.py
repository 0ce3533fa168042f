"""Filter plugins, table-driven: (plugin, task, node) -> passes, or the reason with its figures.

Every row is checked twice: by calling the plugin on a hand-built ``Cycle`` (its mask and its
``explain``), and through the whole pipeline (a ``Scheduler`` whose profile runs that filter
alone), where ``Diagnosis.why_not(node)`` must name the plugin and give the same reason.

Figures come from ``hand_topology`` in conftest.py: from ingress U the edge E is 1 ms away
(1,000 Mbps), the region R 11 ms (bottleneck 100 Mbps), the hub H 31 ms; edge-cpu runs the base
task (4 of its 8 cores, 10 GFLOP at fp32) in 50 ms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from suanwang.model import (
    AcceleratorKind,
    AcceleratorNeed,
    Precision,
    TaskClass,
    TaskSpec,
    TrustLevel,
)
from suanwang.routing import distances_from, routing_graph
from suanwang.scheduling import (
    ClusterState,
    Code,
    Cycle,
    FilterPlugin,
    Request,
    RouteResult,
    Scheduler,
    Stage,
    plugin_factories,
)
from suanwang.scheduling.plugins.route import LatencyShortest
from suanwang.scheduling.registry import build_plugin

BASE: dict[str, Any] = {"work_gflop": 10.0, "cpu_cores": 4.0, "mem_gib": 1.0, "ingress_site": "U"}


def gpu(count: int = 1, mem: float = 0.0) -> AcceleratorNeed:
    """A GPU need."""
    return AcceleratorNeed(AcceleratorKind.GPU, count, mem)


@dataclass(frozen=True)
class Row:
    """One table row: ``passes`` False needs every fragment of ``reason`` in the explanation."""

    plugin: str
    node: str
    task: Mapping[str, Any]
    passes: bool
    reason: tuple[str, ...] = ()
    silent_s: Mapping[str, float] | None = None
    """Nodes excluded by a snapshot (None: no snapshot at all)."""
    holds: tuple[tuple[str, float, Mapping[str, Any]], ...] = field(default=())
    """Background reservations: (node, cores, extra Reservation fields)."""

    def spec(self) -> TaskSpec:
        return TaskSpec(**{**BASE, **self.task})

    @property
    def id(self) -> str:
        verdict = "pass" if self.passes else "reject"
        detail = ",".join(f"{k}={v}" for k, v in self.task.items())
        return f"{self.plugin}:{self.node}:{verdict}:{detail}"


LINK_U_E = 0  # index of link u-e in hand_topology


ROWS = [
    # node-health: awareness excluded the node (the snapshot's verdict); no snapshot -> all pass
    Row("node-health", "edge-small", {}, False, ("excluded by awareness", "120 s"),
        silent_s={"edge-small": 120.0}),
    Row("node-health", "edge-cpu", {}, True, silent_s={"edge-small": 120.0}),
    Row("node-health", "edge-small", {}, True, silent_s=None),
    # resource-fit: cores, memory, accelerator kind/count/device memory, precision
    Row("resource-fit", "edge-cpu", {"cpu_cores": 16.0}, False,
        ("needs 16 free CPU cores, has 8",)),
    Row("resource-fit", "edge-cpu", {"cpu_cores": 8.0}, True),
    Row("resource-fit", "edge-cpu", {}, False, ("needs 4 free CPU cores, has 2",),
        holds=(("edge-cpu", 6.0, {}),)),
    Row("resource-fit", "edge-cpu", {"mem_gib": 32.0}, False,
        ("needs 32 GiB free memory, has 16",)),
    Row("resource-fit", "edge-cpu", {"mem_gib": 4.0}, False, ("needs 4 GiB free memory, has 2",),
        holds=(("edge-cpu", 0.0, {"mem_gib": 14.0}),)),
    Row("resource-fit", "edge-cpu", {"accelerator": gpu()}, False, ("needs 1 free gpu, has 0",)),
    Row("resource-fit", "region-gpu", {"accelerator": gpu(4)}, False, ("needs 4 free gpu, has 2",)),
    Row("resource-fit", "region-gpu", {"accelerator": gpu(2)}, False, ("needs 2 free gpu, has 1",),
        holds=(("region-gpu", 0.0, {"accelerator_kind": "gpu", "accelerator_count": 1}),)),
    Row("resource-fit", "region-gpu", {"accelerator": gpu(1, 80.0)}, False,
        ("needs 80 GiB per gpu, devices have 40",)),
    Row("resource-fit", "region-gpu", {"accelerator": gpu(2, 40.0), "precision": Precision.FP16},
        True),
    Row("resource-fit", "edge-cpu", {"precision": Precision.INT8}, False,
        ("its CPU has no rate at int8",)),
    Row("resource-fit", "region-gpu", {"accelerator": gpu(), "precision": Precision.FP64}, False,
        ("its gpu has no rate at fp64",)),
    # residency: region-code prefixes
    Row("residency", "hub-big", {"residency": ("CN",)}, False,
        ("region DE-BE is outside the data's residency ['CN']",)),
    Row("residency", "edge-cpu", {"residency": ("CN",)}, True),
    Row("residency", "edge-cpu", {"residency": ("CN-SH",)}, False,
        ("region CN-BJ is outside", "['CN-SH']")),
    Row("residency", "region-gpu", {"residency": ("CN-SH", "DE")}, True),
    Row("residency", "noregion", {"residency": ("CN",)}, False, ("region (none) is outside",)),
    Row("residency", "hub-big", {}, True),
    # trust: node level against the task's minimum
    Row("trust", "edge-small", {"min_trust_level": TrustLevel.VERIFIED}, False,
        ("trust level 1 is below the required 2",)),
    Row("trust", "edge-cpu", {"min_trust_level": TrustLevel.VERIFIED}, True),
    Row("trust", "edge-cpu", {"min_trust_level": TrustLevel.SOVEREIGN}, False,
        ("trust level 2 is below the required 3",)),
    Row("trust", "noregion", {}, True),
    # tier-class: hot work stays off the hubs
    Row("tier-class", "hub-big", {"task_class": TaskClass.HOT}, False,
        ("hot work may not run at a hub site",)),
    Row("tier-class", "region-gpu", {"task_class": TaskClass.HOT}, True),
    Row("tier-class", "hub-big", {"task_class": TaskClass.WARM}, True),
    Row("tier-class", "hub-big", {"task_class": TaskClass.COLD}, True),
    # latency-budget: network 2 x 1 ms + 8 Mbit / 1,000 Mbps = 10 ms, compute 50 ms
    Row("latency-budget", "edge-cpu", {"data_in_mb": 1.0, "latency_budget_ms": 59.0}, False,
        ("estimated 60.0 ms (network 10.0 + queueing 0.0 + compute 50.0) exceeds 59 ms",)),
    Row("latency-budget", "edge-cpu", {"data_in_mb": 1.0, "latency_budget_ms": 61.0}, True),
    # 4 of 8 cores already held: the task still gets its own core at once, so no waiting
    Row("latency-budget", "edge-cpu", {"data_in_mb": 1.0, "latency_budget_ms": 61.0}, True,
        holds=(("edge-cpu", 4.0, {}),)),
    # all 8 held: it cannot start now, whatever the budget
    Row("latency-budget", "edge-cpu", {"data_in_mb": 1.0, "latency_budget_ms": 1000.0}, False,
        ("estimated inf ms (network 10.0 + queueing inf + compute 50.0) exceeds 1000 ms",),
        holds=(("edge-cpu", 8.0, {}),)),
    # deadline: no data, so network is the 2 ms round trip
    Row("latency-budget", "edge-cpu", {"deadline_s": 0.05}, False,
        ("estimated 52.0 ms (network 2.0 + queueing 0.0 + compute 50.0) exceeds 50 ms",)),
    Row("latency-budget", "edge-cpu", {"deadline_s": 0.06}, True),
    Row("latency-budget", "edge-cpu", {"deadline_s": 0.05, "latency_budget_ms": 200.0}, False,
        ("exceeds 50 ms",)),
    Row("latency-budget", "hub-big", {}, True),
    # path-bandwidth (under a route that does not prune): 8 Mbit in half of 100 ms = 160 Mbps
    Row("path-bandwidth", "region-gpu", {"data_in_mb": 1.0, "latency_budget_ms": 100.0}, False,
        ("path bottleneck 100.0 Mbps is below the 160.0 Mbps the task needs",)),
    Row("path-bandwidth", "edge-cpu", {"data_in_mb": 1.0, "latency_budget_ms": 100.0}, True),
    Row("path-bandwidth", "edge-cpu", {"data_in_mb": 1.0, "latency_budget_ms": 100.0}, False,
        ("path bottleneck 100.0 Mbps is below the 160.0 Mbps",),
        holds=(("edge-cpu", 0.0, {"links": (LINK_U_E,), "bandwidth_mbps": 900.0}),)),
    Row("path-bandwidth", "region-gpu", {"data_in_mb": 1.0}, True),
    # price-budget: 7,200/h x 4/8 x 50 ms = 0.05, plus 0.1/GB x 0.001 GB = 0.0501
    Row("price-budget", "edge-cpu", {"data_in_mb": 1.0, "budget": 0.05}, False,
        ("estimated price 0.0501 exceeds the budget 0.05",)),
    Row("price-budget", "edge-cpu", {"data_in_mb": 1.0, "budget": 0.06}, True),
    Row("price-budget", "edge-cpu", {"data_in_mb": 1.0}, True),
    # region-gpu: 20/h x 4/32 x 100 ms = 6.94e-5, plus (0.1 + 0.2)/GB x 0.001 GB = 3.694e-4
    Row("price-budget", "region-gpu", {"data_in_mb": 1.0, "budget": 0.0003}, False,
        ("estimated price 0.0003694 exceeds the budget 0.0003",)),
]  # fmt: skip


class UnprunedRoute:
    """Latency-shortest paths that keep every link, so path-bandwidth has something to reject.

    The in-tree route prunes links below the task's bandwidth first (the path-bandwidth filter
    then never sees a short path); an operator may plug in a route that does not.
    """

    name = "unpruned"

    def __init__(self, state: ClusterState) -> None:
        self._inner = LatencyShortest(state.topology)
        self._graph = routing_graph(state.topology)

    def route(self, cycle: Cycle) -> RouteResult:
        paths = distances_from(
            self._graph,
            cycle.spec.ingress_site or "",
            residual_bandwidth_mbps=cycle.state.reservations.residual_mbps(),
        )
        at = self._graph.node_vertex
        return RouteResult(
            latency_ms=paths.latency_ms[0, at],
            bottleneck_mbps=paths.bottleneck_mbps[0, at],
            hops=paths.hops[0, at].astype(np.float64),
            cost_per_gb=np.zeros(len(at)),  # this test route prices no transfer
        )

    def path(self, cycle: Cycle, node: int) -> Any:
        return self._inner.path(_no_bandwidth(cycle), node)

    def explain(self, cycle: Cycle, node: int) -> str:
        return self._inner.explain(cycle, node)


def _no_bandwidth(cycle: Cycle) -> Cycle:
    """The same cycle for the same task without data: the in-tree route then prunes nothing."""
    spec = dataclasses.replace(cycle.spec, data_in_mb=0.0, data_out_mb=0.0)
    return Cycle(dataclasses.replace(cycle.request, spec=spec), cycle.state, cycle.alive)


FACTORIES = {**plugin_factories(), "unpruned": lambda args, state: UnprunedRoute(state)}


def _state(sw: Any, row: Row) -> ClusterState:
    topology = sw.hand_topology()
    snapshot = None if row.silent_s is None else sw.snapshot_excluding(topology, row.silent_s)
    state = ClusterState(topology, snapshot=snapshot)
    for k, (node, cores, extra) in enumerate(row.holds):
        sw.hold(state, f"background-{k}", node, cores, **dict(extra))
    return state


def _route_name(row: Row) -> str:
    return "unpruned" if row.plugin == "path-bandwidth" else "latency-shortest"


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_filter_plugin_on_a_hand_built_cycle(sw: Any, row: Row) -> None:
    state = _state(sw, row)
    plugin = build_plugin(row.plugin, {}, state)
    assert isinstance(plugin, FilterPlugin)
    cycle = sw.cycle_for(state, row.spec(), route=False)
    if plugin.stage is Stage.POST_ROUTE:
        route = FACTORIES[_route_name(row)]({}, state)
        cycle.route = route.route(cycle)
        cycle.reject(route.name, np.isfinite(cycle.route.latency_ms))
    mask = np.asarray(plugin.filter(cycle))
    assert mask.dtype == np.bool_
    assert mask.shape == (len(state.arrays.node_ids),)
    node = sw.index_of(state, row.node)
    assert bool(mask[node]) is row.passes
    if not row.passes:
        reason = plugin.explain(cycle, node)
        for fragment in row.reason:
            assert fragment in reason


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_filter_plugin_through_the_pipeline_why_not(sw: Any, row: Row) -> None:
    state = _state(sw, row)
    scheduler = Scheduler(
        sw.profile(filters=(row.plugin,), route=_route_name(row)), state, factories=FACTORIES
    )
    decision = scheduler.schedule(Request("t-" + row.plugin, row.spec()))
    if decision.status.code is Code.ERROR:
        # No node could ever hold the demand: request-check refuses it before any filter runs.
        assert not row.passes
        assert decision.status.plugin == "request-check"
        return
    verdict = decision.diagnosis.why_not(row.node)
    assert verdict.node_id == row.node
    if row.passes:
        assert verdict.passed
        assert verdict.reason == "passed every filter"
    else:
        assert not verdict.passed
        assert verdict.plugin == row.plugin
        for fragment in row.reason:
            assert fragment in verdict.reason


STAGES = {
    "node-health": Stage.PRE_ROUTE,
    "resource-fit": Stage.PRE_ROUTE,
    "residency": Stage.PRE_ROUTE,
    "trust": Stage.PRE_ROUTE,
    "tier-class": Stage.PRE_ROUTE,
    "latency-budget": Stage.POST_ROUTE,
    "path-bandwidth": Stage.POST_ROUTE,
    "price-budget": Stage.POST_ROUTE,
}


@pytest.mark.parametrize(("name", "stage"), STAGES.items())
def test_filters_declare_their_stage(sw: Any, name: str, stage: Stage) -> None:
    plugin = build_plugin(name, {}, ClusterState(sw.hand_topology()))
    assert plugin.name == name  # type: ignore[attr-defined]
    assert plugin.stage is stage  # type: ignore[attr-defined]


def test_every_table_plugin_is_covered_with_a_pass_and_a_rejection() -> None:
    covered = {(row.plugin, row.passes) for row in ROWS}
    for name in STAGES:
        assert (name, True) in covered
        assert (name, False) in covered


def test_post_route_filters_need_the_route(sw: Any) -> None:
    state = ClusterState(sw.hand_topology())
    cycle = sw.cycle_for(state, TaskSpec(**BASE, latency_budget_ms=50.0), route=False)
    with pytest.raises(RuntimeError, match="Route point"):
        build_plugin("latency-budget", {}, state).filter(cycle)  # type: ignore[attr-defined]
