"""Online placement of a task graph: the cost model, HEFT, the budgets, then the ledger.

``place_graph`` builds the graph's cost model over prefiltered candidates
(``costs.graph_costs``), places it with ``list_scheduler.list_schedule`` (HEFT with and without its
lookahead, the better of the two), checks its latency budget and price budget,
and reserves every stage's room in the state's ledger under ``<graph id>/<stage id>`` (all or
nothing: a refused reservation gives back the ones made). Links are not reserved: stages' data
moves best effort, at the bottleneck of the residual bandwidth the model was built on.
``release_graph`` gives a graph's reservations back.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanwang.model.graph import TaskGraph
from suanwang.scheduling.graph.costs import GraphCosts, GraphPlacementError, graph_costs
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
        costs: The cost model it was decided on.
        reserved: Whether the stages hold their room in the ledger.
    """

    graph_id: str
    node_ids: tuple[str, ...]
    node_index: tuple[int, ...]
    schedule: GraphSchedule
    costs: GraphCosts
    reserved: bool

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
    traffic_weight: float = 0.0,
    reserve: bool = True,
) -> GraphPlacement:
    """Place ``graph`` on ``state`` by HEFT (``list_schedule``); with ``reserve`` hold its room.

    Args:
        graph: The graph; it needs an ingress site.
        state: The cluster; its ledger is written when ``reserve``.
        candidates_per_stage: ``k`` of the prefilter, None for every node (small clusters).
        traffic_weight: ms one MB x hop of traffic is worth (see ``list_scheduler.heft``).
        reserve: Hold the stages in the ledger.

    Raises:
        GraphPlacementError: Some stage fits no node (the message names it).
        GraphRefusedError: The makespan exceeds ``latency_budget_ms``, the price exceeds
            ``budget``, or the ledger refused a stage; the ledger is as it was.
    """
    costs = graph_costs(graph, state, candidates_per_stage)
    schedule = list_schedule(graph, costs, traffic_weight)
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
    return GraphPlacement(graph.id, tuple(ids[n] for n in index), index, schedule, costs, reserve)


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
