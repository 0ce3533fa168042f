"""The single-site baseline: every stage of a graph at one site, the best such site.

Ingress U; site A (1 ms, 10 Gbps) has a CPU node only, site B (5 ms, 1 Gbps) a CPU node and a
GPU node; a graph with a GPU stage can run at one site only at B, though decomposed its CPU
stage stays at A, where its 50 MB input arrives ten times sooner.
"""

import pytest

from suanwang.model import (
    Accelerator,
    AcceleratorKind,
    AcceleratorNeed,
    Link,
    Node,
    Precision,
    Site,
    Tier,
    Topology,
)
from suanwang.model.graph import Edge, Stage, TaskGraph
from suanwang.scheduling import ClusterState
from suanwang.scheduling.graph import (
    GraphPlacementError,
    graph_costs,
    place_graph,
    single_site_schedule,
)

FP32, FP16 = Precision.FP32, Precision.FP16


def _topology(*, gpu_at_b: bool = True) -> Topology:
    gpu = Accelerator(AcceleratorKind.GPU, "gpu", 1, {FP16: 100_000.0}, 24.0, 70.0)
    nodes = [
        Node("a", "A", cpu_cores=8, mem_gib=16.0, cpu_peak_gflops={FP32: 2_000.0}),
        Node("b", "B", cpu_cores=8, mem_gib=16.0, cpu_peak_gflops={FP32: 2_000.0}),
    ]
    if gpu_at_b:
        nodes.append(
            Node(
                "bg",
                "B",
                cpu_cores=8,
                mem_gib=16.0,
                cpu_peak_gflops={FP32: 1_000.0},
                accelerators=(gpu,),
            )
        )
    sites = [Site("U", Tier.TERMINAL), Site("A", Tier.EDGE), Site("B", Tier.REGION)]
    links = [Link("u-a", "U", "A", 10_000.0, 1.0), Link("u-b", "U", "B", 1_000.0, 5.0)]
    return Topology(sites, nodes, links=links)


def _graph() -> TaskGraph:
    return TaskGraph(
        "g",
        (
            Stage("filter", 100.0, cpu_cores=4, input_mb=50.0),
            Stage(
                "infer",
                1_000.0,
                precision=FP16,
                accelerator=AcceleratorNeed(AcceleratorKind.GPU),
                result_mb=0.1,
            ),
        ),
        (Edge("filter", "infer", reduction_ratio=0.01),),
        ingress_site="U",
    )


def test_the_best_single_site_is_the_one_that_runs_every_stage() -> None:
    state = ClusterState(_topology())
    costs = graph_costs(_graph(), state)
    single = single_site_schedule(_graph(), costs)
    ids = state.arrays.node_ids
    sites = {state.topology.nodes[ids[int(costs.nodes[p])]].site_id for p in single.position}
    assert sites == {"B"}
    decomposed = place_graph(_graph(), state, reserve=False)
    assert [state.topology.nodes[n].site_id for n in decomposed.node_ids] == ["A", "B"]
    # The input reaches A in 41 ms and B in 405; only 0.5 MB of it goes on from A to B.
    assert single.start_ms[0] == pytest.approx(405.0)
    assert decomposed.schedule.start_ms[0] == pytest.approx(41.0)
    assert decomposed.makespan_ms < single.makespan_ms


def test_no_site_with_every_device_is_refused() -> None:
    state = ClusterState(_topology(gpu_at_b=False))
    graph = TaskGraph("cpu", (Stage("x", 1.0, cpu_cores=12),), ingress_site="U")
    with pytest.raises(GraphPlacementError):
        single_site_schedule(graph, graph_costs(graph, state))
