"""Graph stages that read datasets: the move of the data is in the cost model.

Ingress U; site A 1 ms away with a fast node; site D 1 ms away on the other side with a node a
quarter as fast that holds a 1,000 MB dataset; A and D are joined over U at 1,000 Mbps, so
moving the dataset to A takes 8 s, far more than computing at D.
"""

import pytest

from suanwang.model import Dataset, Link, Node, Precision, Site, Tier, Topology
from suanwang.model.graph import Stage, TaskGraph
from suanwang.scheduling import ClusterState
from suanwang.scheduling.graph import GraphPlacementError, place_graph

FP32 = Precision.FP32


def _topology() -> Topology:
    sites = [Site("U", Tier.TERMINAL), Site("A", Tier.EDGE), Site("D", Tier.REGION)]
    nodes = [
        Node("a", "A", cpu_cores=8, mem_gib=16.0, cpu_peak_gflops={FP32: 4_000.0}),
        Node("d", "D", cpu_cores=8, mem_gib=16.0, cpu_peak_gflops={FP32: 1_000.0}),
    ]
    links = [Link("u-a", "U", "A", 1_000.0, 1.0), Link("u-d", "U", "D", 1_000.0, 1.0)]
    return Topology(sites, nodes, links=links, datasets=[Dataset("obs", 1_000.0, ("D",))])


def _graph(*datasets: str) -> TaskGraph:
    stage = Stage("scan", 100.0, cpu_cores=8, result_mb=0.1, datasets=datasets)
    return TaskGraph("g", (stage,), ingress_site="U")


def test_a_stage_runs_next_to_its_data_when_the_move_costs_more_than_the_compute() -> None:
    topology = _topology()
    assert place_graph(_graph(), ClusterState(topology)).node_ids == ("a",)
    placed = place_graph(_graph("obs"), ClusterState(topology))
    assert placed.node_ids == ("d",)
    position = int(placed.schedule.position[0])
    a = int(list(placed.costs.nodes).index(0))
    # At a the stage first waits for 1,000 MB at 1,000 Mbps (8 s) plus its compute.
    assert placed.costs.compute_ms[0, a] - placed.costs.compute_ms[0, position] > 7_000.0


def test_an_unknown_dataset_is_refused_naming_the_stage_and_the_id() -> None:
    with pytest.raises(GraphPlacementError, match=r"stage 'scan': .*unknown dataset, got 'nope'"):
        place_graph(_graph("nope"), ClusterState(_topology()))
