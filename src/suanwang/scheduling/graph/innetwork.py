"""In-network computing (在网计算): aggregation stages on network elements that offer compute.

A placed graph runs each stage on a node (``place_graph``). ``in_network_plan`` then takes each
``aggregate`` stage (in topological order) and moves it to a network element with compute
(``NetworkElement.compute``: a programmable switch, a router with a DPU) where that carries
fewer MB x hops: its parents' data then stops at the element, and only ``reduction_ratio`` of
it travels on, so every link after the element carries the reduced data. A stage moves only
where the element has the cores and memory left (elements' compute is not in the ledger: the
plan keeps their room itself) and the traffic falls; among equal traffic the element with the
least latency in and out is taken. Its time there is its work at the element's fp32 peak.

Hops and latencies are those of the latency-shortest paths between the vertices (links up
now); the twin (``twin.graphrun``) measures the traffic each link then carries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suanwang.model import NetworkElement
from suanwang.model.graph import Stage, StageKind, TaskGraph
from suanwang.routing import distances_from
from suanwang.scheduling.graph.costs import FloatArray, GraphCosts
from suanwang.scheduling.graph.datalocal import read_ms
from suanwang.scheduling.graph.place import GraphPlacement
from suanwang.scheduling.state import ClusterState

_SLACK = 1e-9


@dataclass(frozen=True)
class StagePlace:
    """Where one stage runs: a node (at its site's vertex) or a network element.

    Attributes:
        vertex: Routing vertex the stage computes at (its node's site, or the element).
        where: The node id, or the element id.
        compute_ms: Its compute time there (without the moves of its datasets, which the twin
            makes as flows of their own).
        in_network: True on a network element.
    """

    vertex: int
    where: str
    compute_ms: float
    in_network: bool = False


@dataclass(frozen=True)
class InNetworkPlan:
    """A placement with aggregation stages moved into the network.

    Attributes:
        places: Per stage, where it runs.
        moved: Ids of the stages on network elements.
        traffic_mb_hops: MB x hops with the moves.
        node_traffic_mb_hops: MB x hops with every stage on its node.
    """

    places: tuple[StagePlace, ...]
    moved: tuple[str, ...]
    traffic_mb_hops: float
    node_traffic_mb_hops: float


def node_places(
    graph: TaskGraph, costs: GraphCosts, position: Sequence[int], state: ClusterState
) -> tuple[StagePlace, ...]:
    """Per stage, its place with stage ``s`` on model position ``position[s]`` of ``costs``.

    The compute time is the model's less the moves of the stage's datasets (``read_ms``).
    """
    vertex, ids = state.arrays.node_vertex, state.arrays.node_ids
    places = []
    for s, p in enumerate(position):
        node = int(costs.nodes[p])
        compute_ms = float(costs.compute_ms[s, p])
        reads_ms = read_ms(state, graph.stages[s].datasets, node)
        places.append(StagePlace(int(vertex[node]), ids[node], max(compute_ms - reads_ms, 0.0)))
    return tuple(places)


def stage_places(
    graph: TaskGraph, placement: GraphPlacement, state: ClusterState
) -> tuple[StagePlace, ...]:
    """Per stage of a node placement, its place (``node_places``)."""
    return node_places(graph, placement.costs, placement.schedule.position.tolist(), state)


def element_compute_ms(stage: Stage, element: NetworkElement) -> float:
    """The stage's time on ``element``'s compute (work at its fp32 peak); inf without room."""
    compute = element.compute
    if compute is None or compute.cpu_cores < stage.cpu_cores or compute.mem_gib < stage.mem_gib:
        return math.inf
    if stage.work_gflop <= 0:
        return 0.0
    return math.inf if compute.peak_gflops <= 0 else stage.work_gflop / compute.peak_gflops * 1e3


class _Hops:
    """Hops and one-way latency between the vertices a plan may use."""

    def __init__(self, state: ClusterState, vertices: Sequence[int]) -> None:
        sources = np.unique(np.asarray(vertices, dtype=np.intp))
        paths = distances_from(state.routing_graph(), sources, excluded_links=state.down_links())
        self._row = {int(v): i for i, v in enumerate(sources.tolist())}
        self._hops = np.where(paths.hops >= 0, paths.hops, np.inf).astype(np.float64)
        self._latency: FloatArray = np.asarray(paths.latency_ms, dtype=np.float64)

    def hops(self, a: int, b: int) -> float:
        return float(self._hops[self._row[a], b])

    def latency_ms(self, a: int, b: int) -> float:
        return float(self._latency[self._row[a], b])


def _flows(graph: TaskGraph, s: int) -> list[tuple[int | None, float, bool]]:
    """Stage ``s``'s data: (other stage or None for the ingress, MB, whether it flows in)."""
    flows: list[tuple[int | None, float, bool]] = []
    if s in graph.entries:
        flows.append((None, graph.stages[s].input_mb, True))
    for k in graph.parents[s]:
        flows.append((graph.ends[k][0], graph.edge_data_mb[k], True))
    for k in graph.children[s]:
        flows.append((graph.ends[k][1], graph.edge_data_mb[k], False))
    if not graph.children[s]:
        flows.append((None, graph.stages[s].result_mb, False))
    return flows


def plan_traffic_mb_hops(
    graph: TaskGraph, vertices: Sequence[int], ingress: int, hops: _Hops
) -> float:
    """MB x hops of every flow of ``graph`` with stage ``s`` computing at ``vertices[s]``."""
    total = 0.0
    for s in range(len(graph.stages)):
        for other, data_mb, inbound in _flows(graph, s):
            if inbound and data_mb > 0:  # each flow counted once: at the stage it goes into
                src = ingress if other is None else vertices[other]
                total += data_mb * hops.hops(src, vertices[s])
        if not graph.children[s] and graph.stages[s].result_mb > 0:
            total += graph.stages[s].result_mb * hops.hops(vertices[s], ingress)
    return total


def in_network_plan(
    graph: TaskGraph, placement: GraphPlacement, state: ClusterState
) -> InNetworkPlan:
    """Aggregate stages moved onto network elements where traffic falls (module docstring).

    Stages of other kinds stay on their nodes.

    Raises:
        ValueError: The graph has no ingress site.
    """
    if graph.ingress_site is None:
        raise ValueError(f"graph {graph.id!r}: ingress_site is needed")
    routing = state.routing_graph()
    ingress = routing.vertex(graph.ingress_site)
    places = list(stage_places(graph, placement, state))
    elements = [(routing.vertex(e.id), e) for e in state.topology.elements.values() if e.compute]
    vertices = [p.vertex for p in places]
    hops = _Hops(state, [ingress, *vertices, *(v for v, _ in elements)])
    before = plan_traffic_mb_hops(graph, vertices, ingress, hops)
    room = {e.id: [float(e.compute.cpu_cores), e.compute.mem_gib] for _, e in elements if e.compute}
    moved: list[str] = []
    for s in graph.order:
        stage = graph.stages[s]
        if stage.kind is not StageKind.AGGREGATE:
            continue
        best = (plan_traffic_mb_hops(graph, vertices, ingress, hops) - _SLACK, math.inf)
        choice: tuple[int, NetworkElement, float] | None = None
        for vertex, element in elements:
            left = room[element.id]
            if left[0] < stage.cpu_cores - _SLACK or left[1] < stage.mem_gib - _SLACK:
                continue
            compute_ms = element_compute_ms(stage, element)
            if not math.isfinite(compute_ms):
                continue
            trial = [*vertices]
            trial[s] = vertex
            traffic = plan_traffic_mb_hops(graph, trial, ingress, hops)
            latency = sum(
                hops.latency_ms(vertex, ingress if other is None else vertices[other])
                for other, _, _ in _flows(graph, s)
            )
            if (traffic, latency) < best:
                best, choice = (traffic, latency), (vertex, element, compute_ms)
        if choice is not None:
            vertex, element, compute_ms = choice
            vertices[s] = vertex
            places[s] = StagePlace(vertex, element.id, compute_ms, in_network=True)
            room[element.id][0] -= stage.cpu_cores
            room[element.id][1] -= stage.mem_gib
            moved.append(stage.id)
    after = plan_traffic_mb_hops(graph, vertices, ingress, hops)
    return InNetworkPlan(tuple(places), tuple(moved), after, before)
