"""A task graph run in the twin: timing against the cost model, link traffic, shared links.

In-network aggregation runs on ``docs/examples/allreduce-*.yaml``: four 100 MB gradients from
racks under a spine switch, summed (reduction ratio 0.25) on their way to the parameter server
two links beyond the spine (links ``spine-border`` and ``border-ps``, 40 Gbps each).
"""

from pathlib import Path

import pytest

from suanwang.cli.graph_file import read_graph
from suanwang.model import (
    AcceleratorKind,
    AcceleratorNeed,
    Dataset,
    Link,
    Node,
    Precision,
    Site,
    Tier,
    Topology,
)
from suanwang.model.graph import Edge, Stage, TaskGraph
from suanwang.scenario import resolve_scenario
from suanwang.scheduling import ClusterState
from suanwang.scheduling.graph import place_graph
from suanwang.scheduling.graph.innetwork import StagePlace, in_network_plan, stage_places
from suanwang.twin.graphrun import run_graph

EXAMPLES = Path(__file__).resolve().parents[2] / "docs/examples"
RESULT_MB = 0.01
"""The update's result, which goes back to the ingress over the spine's uplink too."""


def _allreduce() -> tuple[TaskGraph, ClusterState]:
    state = ClusterState(resolve_scenario(str(EXAMPLES / "allreduce-scenario.yaml")).topology)
    return read_graph(EXAMPLES / "allreduce-graph.yaml"), state


def test_in_network_aggregation_cuts_the_links_after_the_switch_by_its_ratio() -> None:
    graph, state = _allreduce()
    placement = place_graph(graph, state, reserve=False)
    on_nodes = run_graph(graph, stage_places(graph, placement, state), state)
    plan = in_network_plan(graph, placement, state)
    in_network = run_graph(graph, plan.places, state)
    for link in ("spine-border", "border-ps"):
        before = on_nodes.link_mb[link] - RESULT_MB
        after = in_network.link_mb[link] - RESULT_MB
        assert before == pytest.approx(400.0)
        assert after == pytest.approx(0.25 * before)
    for rack in range(1, 5):  # what reaches the switch is the same
        link = f"rack-{rack}-spine"
        assert in_network.link_mb[link] == pytest.approx(on_nodes.link_mb[link])
    assert in_network.traffic_gb < on_nodes.traffic_gb
    assert in_network.end_to_end_ms < on_nodes.end_to_end_ms


def test_flows_starting_together_share_a_link() -> None:
    graph, state = _allreduce()
    placement = place_graph(graph, state, reserve=False)
    run = run_graph(graph, stage_places(graph, placement, state), state)
    grads = [graph.index_of(f"grad-{i}") for i in range(1, 5)]
    last = max(run.finish_ms[s] for s in grads)
    # The inputs shared the ingress link, so the gradients end a few hundredths of a ms apart,
    # and the last to set out finds the other three on the 40 Gbps uplink: 100 MB at 10 Gbps
    # is 80 ms, plus 0.75 ms of propagation from a rack to the parameter server.
    assert last - min(run.finish_ms[s] for s in grads) < 1.0
    start = run.start_ms[graph.index_of("sum")]
    assert start == pytest.approx(last + 80.0 + 0.75)


def test_the_twin_agrees_with_the_cost_model_where_nothing_contends() -> None:
    state = ClusterState(resolve_scenario("metro-edge").topology)
    gpu = AcceleratorNeed(AcceleratorKind.GPU)
    graph = TaskGraph(  # a chain: one flow at a time, so no link is shared
        "chain",
        (
            Stage("decode", 40.0, cpu_cores=4, input_mb=60.0),
            Stage("detect", 800.0, precision=Precision.FP16, accelerator=gpu),
            Stage("report", 1.0, result_mb=0.2),
        ),
        (Edge("decode", "detect", reduction_ratio=0.1), Edge("detect", "report", data_mb=0.5)),
        ingress_site="term-futian",
    )
    placement = place_graph(graph, state, reserve=False)
    run = run_graph(graph, stage_places(graph, placement, state), state)
    assert run.end_to_end_ms == pytest.approx(placement.makespan_ms, rel=1e-9)
    assert run.start_ms == pytest.approx(tuple(placement.schedule.start_ms.tolist()))


def test_a_dataset_not_held_where_a_stage_runs_crosses_the_links_first() -> None:
    fp32 = Precision.FP32
    topology = Topology(
        [Site("U", Tier.TERMINAL), Site("A", Tier.EDGE), Site("D", Tier.REGION)],
        [Node("a", "A", cpu_cores=8, mem_gib=16.0, cpu_peak_gflops={fp32: 1_000.0})],
        links=[Link("u-a", "U", "A", 1_000.0, 1.0), Link("u-d", "U", "D", 1_000.0, 1.0)],
        datasets=[Dataset("obs", 125.0, ("D",))],
    )
    state = ClusterState(topology)
    graph = TaskGraph(
        "g", (Stage("scan", 0.0, datasets=("obs",), result_mb=0.0),), ingress_site="U"
    )
    a = state.routing_graph().vertex("A")
    run = run_graph(graph, (StagePlace(a, "a", 10.0),), state)
    assert run.link_mb == pytest.approx({"u-a": 125.0, "u-d": 125.0})
    # 1 ms to A; 125 MB from D over two links (2 ms) at 1,000 Mbps (1 s); 10 ms; 1 ms back.
    assert run.start_ms[0] == pytest.approx(1.0 + 2.0 + 1_000.0)
    assert run.end_to_end_ms == pytest.approx(1.0 + 2.0 + 1_000.0 + 10.0 + 1.0)
    assert run.traffic_gb == pytest.approx(0.25)
    assert run.moved_gb == pytest.approx(0.125)


def test_a_place_per_stage_is_required() -> None:
    graph, state = _allreduce()
    with pytest.raises(ValueError, match="one entry per stage, got 0"):
        run_graph(graph, (), state)
