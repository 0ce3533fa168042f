"""Online placement of a task graph: the cost model, HEFT, the budgets, then the ledger.

``place_graph`` builds the graph's cost model over prefiltered candidates
(``costs.graph_costs``), places it with ``list_scheduler.list_schedule`` (HEFT with and without its
lookahead, the better of the two), checks its latency budget and price budget,
and reserves every stage's room in the state's ledger under ``<graph id>/<stage id>`` (all or
nothing: a refused reservation gives back the ones made). Links are not reserved: stages' data
moves best effort, at the bottleneck of the residual bandwidth the model was built on.
A graph with along-path stages is placed by ``alongpath.along_path_schedule`` (the nodes of
its path toward the cloud that fit, ``alongpath.path_nodes``, join the candidates); stages
that read datasets have the moves of their data in the model (``datalocal``, the replicas'
nodes joining the candidates).
``release_graph`` gives a graph's reservations back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suanwang.model.graph import TaskGraph
from suanwang.scheduling.graph.alongpath import (
    ALONG_PATH_TRAFFIC_WEIGHT_MS,
    AlongPathReport,
    along_path_schedule,
    cloud_path,
    path_nodes,
)
from suanwang.scheduling.graph.costs import (
    SITE_SHARE,
    GraphCosts,
    GraphPlacementError,
    check_ingress,
    graph_costs,
)
from suanwang.scheduling.graph.datalocal import check_datasets, data_nodes, with_dataset_reads
from suanwang.scheduling.graph.list_scheduler import list_schedule
from suanwang.scheduling.graph.timing import GraphSchedule
from suanwang.scheduling.reservations import OverCommitError, Reservation
from suanwang.scheduling.state import ClusterState

CANDIDATES_PER_STAGE = 32
"""Default ``k`` of the candidate prefilter (per kind of demand and criterion)."""


class GraphRefusedError(GraphPlacementError):
    """The graph was placed but misses a budget, or the ledger refused a stage; nothing held."""


@dataclass(frozen=True, eq=False)
class GraphPlacement:
    """A placed task graph.

    Attributes:
        graph_id: The graph.
        node_ids: Per stage (in ``graph.stages`` order), the node it runs on.
        node_index: The same as node indexes (``TopologyArrays`` order).
        schedule: Start and finish times, makespan, traffic, cost
            (``timing.GraphSchedule``).
        costs: The cost model it was decided on (for an along-path graph, with those stages
            kept to the path's nodes).
        reserved: Whether the stages hold their room in the ledger.
        along_path: Where the along-path stages went and the traffic saved, for a graph
            with such stages.
    """

    graph_id: str
    node_ids: tuple[str, ...]
    node_index: tuple[int, ...]
    schedule: GraphSchedule
    costs: GraphCosts
    reserved: bool
    along_path: AlongPathReport | None = None

    @property
    def makespan_ms(self) -> float:
        """End-to-end latency: request out of the ingress to the last result back."""
        return self.schedule.makespan_ms


def stage_task_id(graph: TaskGraph, stage: int) -> str:
    """The ledger id stage ``stage`` of ``graph`` reserves under."""
    return f"{graph.id}/{graph.stages[stage].id}"


def place_graph(
    graph: TaskGraph,
    state: ClusterState,
    *,
    candidates_per_stage: int | None = CANDIDATES_PER_STAGE,
    traffic_weight: float | None = None,
    reserve: bool = True,
) -> GraphPlacement:
    """Place ``graph`` on ``state`` by HEFT (``list_schedule``); with ``reserve`` hold its room.

    Args:
        graph: The graph; it needs an ingress site.
        state: The cluster; its ledger is written when ``reserve``.
        candidates_per_stage: ``k`` of the prefilter, None for every node (small clusters).
        traffic_weight: ms one MB x hop of traffic is worth (see ``list_scheduler.heft``);
            None: 0, or ``ALONG_PATH_TRAFFIC_WEIGHT_MS`` for a graph with along-path stages.
        reserve: Hold the stages in the ledger.

    Raises:
        GraphPlacementError: Some stage fits no node (the message names it).
        GraphRefusedError: The makespan exceeds ``latency_budget_ms``, the price exceeds
            ``budget``, or the ledger refused a stage; the ledger is as it was.
    """
    check_ingress(graph, state)
    along = any(graph.runs_along_path(s) for s in range(len(graph.stages)))
    reads = any(stage.datasets for stage in graph.stages)
    extra: list[np.ndarray] = []
    path = None
    if along and graph.ingress_site is not None:
        path = cloud_path(state, graph.ingress_site)
        per_site = SITE_SHARE if candidates_per_stage is None else candidates_per_stage
        extra.append(path_nodes(graph, state, path, min(per_site, SITE_SHARE)))
    if reads:
        check_datasets(graph, state)
        extra.append(data_nodes(graph, state))
    include = np.unique(np.concatenate(extra)).astype(np.intp) if extra else None
    costs = graph_costs(graph, state, candidates_per_stage, include=include)
    if reads:
        costs = with_dataset_reads(graph, costs, state)
    report = None
    if path is not None:
        weight = ALONG_PATH_TRAFFIC_WEIGHT_MS if traffic_weight is None else traffic_weight
        schedule, report, costs = along_path_schedule(graph, costs, state, path, weight)
    else:
        schedule = list_schedule(graph, costs, traffic_weight or 0.0)
    budget_ms = graph.latency_budget_ms
    if budget_ms is not None and schedule.makespan_ms > budget_ms:
        raise GraphRefusedError(
            f"graph {graph.id!r}: makespan {schedule.makespan_ms:.3f} ms exceeds "
            f"latency_budget_ms {budget_ms:g}"
        )
    if graph.budget is not None and schedule.cost > graph.budget:
        raise GraphRefusedError(
            f"graph {graph.id!r}: price {schedule.cost:.6g} exceeds budget {graph.budget:g}"
        )
    index = tuple(int(costs.nodes[p]) for p in schedule.position.tolist())
    if reserve:
        _reserve(graph, state, index)
    ids = state.arrays.node_ids
    node_ids = tuple(ids[n] for n in index)
    return GraphPlacement(graph.id, node_ids, index, schedule, costs, reserve, report)


def _reserve(graph: TaskGraph, state: ClusterState, index: tuple[int, ...]) -> None:
    ledger = state.reservations
    made: list[str] = []
    for s, stage in enumerate(graph.stages):
        task_id = stage_task_id(graph, s)
        try:
            if ledger.reserve(Reservation.of(task_id, index[s], stage.spec)):
                made.append(task_id)
        except OverCommitError as error:
            for held in made:
                ledger.release(held)
            raise GraphRefusedError(f"graph {graph.id!r}: stage {stage.id!r}: {error}") from None


def release_graph(graph: TaskGraph, state: ClusterState) -> int:
    """Give back every stage reservation of ``graph``; the number released."""
    ledger = state.reservations
    return sum(
        ledger.release(stage_task_id(graph, s)) is not None for s in range(len(graph.stages))
    )
