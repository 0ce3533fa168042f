"""In-network computing: aggregation stages moved onto network elements that offer compute.

The pod of ``docs/examples/allreduce-scenario.yaml``: racks 1-4 (one GPU server each) under a
spine switch with 32 cores of compute; the parameter server ``ps`` two links beyond the spine
(spine - border - ps); the ingress ``ops`` one link from the spine.
"""

from pathlib import Path

import pytest

from suanwang.cli.graph_file import read_graph
from suanwang.model import AcceleratorKind, AcceleratorNeed, Precision
from suanwang.model.graph import Edge, Stage, StageKind, TaskGraph
from suanwang.scenario import resolve_scenario
from suanwang.scheduling import ClusterState
from suanwang.scheduling.graph import place_graph
from suanwang.scheduling.graph.innetwork import in_network_plan

EXAMPLES = Path(__file__).resolve().parents[2] / "docs/examples"


def _state() -> ClusterState:
    return ClusterState(resolve_scenario(str(EXAMPLES / "allreduce-scenario.yaml")).topology)


def test_the_sum_of_the_gradients_moves_onto_the_spine_and_the_traffic_falls() -> None:
    state = _state()
    graph = read_graph(EXAMPLES / "allreduce-graph.yaml")
    placement = place_graph(graph, state, reserve=False)
    sites = [state.topology.nodes[n].site_id for n in placement.node_ids]
    assert sorted(sites[:4]) == ["rack-1", "rack-2", "rack-3", "rack-4"]
    assert sites[4:] == ["ps", "ps"]
    plan = in_network_plan(graph, placement, state)
    assert plan.moved == ("sum",)
    moved = plan.places[4]
    assert (moved.where, moved.in_network) == ("spine", True)
    assert moved.compute_ms == pytest.approx(0.1 / 400 * 1e3)  # its work at the spine's peak
    assert all(not place.in_network for s, place in enumerate(plan.places) if s != 4)
    # Inputs 4 x 0.1 MB over 2 links and the 0.01 MB result over 3 on both plans; on nodes the
    # four gradients cross 3 links each, in the network 1, and one summed gradient then 2.
    common = 4 * 0.1 * 2 + 0.01 * 3
    assert plan.node_traffic_mb_hops == pytest.approx(common + 400 * 3)
    assert plan.traffic_mb_hops == pytest.approx(common + 400 * 1 + 100 * 2)


def test_an_element_holds_only_what_its_compute_has_room_for() -> None:
    state = _state()
    gpu = AcceleratorNeed(AcceleratorKind.GPU)
    grads = [
        Stage(f"g{i}", 9_000.0, precision=Precision.FP16, accelerator=gpu, input_mb=0.1)
        for i in range(2)
    ]
    sums = [
        Stage(f"sum{i}", 0.1, cpu_cores=20, kind=StageKind.AGGREGATE, reduction_ratio=0.5)
        for i in range(2)
    ]
    update = Stage("update", 1.0, cpu_cores=24, result_mb=0.01)
    edges = [Edge(f"g{i}", f"sum{i}", data_mb=50.0) for i in range(2)]
    edges += [Edge(f"sum{i}", "update") for i in range(2)]
    graph = TaskGraph("two", (*grads, *sums, update), tuple(edges), ingress_site="ops")
    plan = in_network_plan(graph, place_graph(graph, state, reserve=False), state)
    # Each sum would save 50 MB x hops on the spine, but 20 + 20 cores do not fit its 32.
    assert len(plan.moved) == 1
    assert sum(place.in_network for place in plan.places) == 1
    assert plan.node_traffic_mb_hops - plan.traffic_mb_hops == pytest.approx(50.0)


def test_stages_of_kind_compute_never_move() -> None:
    state = _state()
    graph = TaskGraph(
        "plain",
        (Stage("a", 1.0, cpu_cores=24, input_mb=10.0), Stage("b", 1.0, result_mb=10.0)),
        (Edge("a", "b", data_mb=10.0),),
        ingress_site="ops",
    )
    plan = in_network_plan(graph, place_graph(graph, state, reserve=False), state)
    assert plan.moved == ()
    assert plan.traffic_mb_hops == pytest.approx(plan.node_traffic_mb_hops)
