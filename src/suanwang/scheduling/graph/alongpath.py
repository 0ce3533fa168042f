"""Along-path computing (逐级计算): stages placed on nodes of the routed path toward the cloud.

The path of a graph is the latency-shortest path (links up now) from its ingress site to the
nearest site of the highest tier that holds a usable node (a hub where there is one: the cloud).
Its sites are those it passes and those standing at one of its routers (one link from a
network element of the path: compute rooms hang off the aggregation and core routers the data
passes), each at the *step* of that vertex on the path (0 at the ingress). A stage that runs
along the path (``TaskGraph.runs_along_path``):

* constraint: runs on a node of a site of the path, and no earlier on it than any of its
  along-path parents (the path from a parent's node toward the cloud is the rest of the path,
  a subpath of a shortest path being a shortest path); a stage whose parents are off the path
  keeps to the path from the ingress;
* score: HEFT chooses among those nodes by finish time + ``traffic_weight`` x the MB x hops its
  data moves, ``ALONG_PATH_TRAFFIC_WEIGHT_MS`` unless the caller gives a weight: work that
  shrinks data runs early on the path, so less of it travels on.

The path's nodes that fit join the cost model's candidates (``path_nodes``: per kind of
demand and site, a few of least compute time, more where the kind needs the room). The
constraint is kept by masking every other node out of the stage's candidates (compute
``inf``), then placing by ``list_schedule``; where a child lands before its parent on the path,
the child's candidates lose the steps before its parent's and the graph is placed again (each
round removes at least one candidate, so the rounds are bounded by the candidates).

The traffic saved is reported against the stages sent to the cloud: the same placement with
every along-path stage at the last step of the path where it can run (capacity aside).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanwang.model.graph import TaskGraph
from suanwang.routing import distances_from
from suanwang.scheduling.graph.costs import (
    SITE_SHARE,
    GraphCosts,
    GraphPlacementError,
    IntArray,
    demand_key,
    demand_row,
    free_room,
)
from suanwang.scheduling.graph.list_scheduler import list_schedule
from suanwang.scheduling.graph.stagecosts import Kind
from suanwang.scheduling.graph.timing import GraphSchedule, evaluate
from suanwang.scheduling.state import ClusterState

ALONG_PATH_TRAFFIC_WEIGHT_MS = 1.0
"""Default ms one MB x hop is worth when a graph runs along the path (a MB carried one link
further weighs as much as a millisecond of latency)."""


@dataclass(frozen=True, eq=False)
class CloudPath:
    """The path from a graph's ingress toward the cloud.

    Attributes:
        sites: Site ids along the path in path order, the ingress first, the cloud site last.
        vertices: Their routing vertex indexes.
        steps: Per site, its step: the position on the path of the site itself, or of the
            router of the path it stands at.
        nodes: Indexes of the usable nodes at those sites.
    """

    sites: tuple[str, ...]
    vertices: tuple[int, ...]
    steps: tuple[int, ...]
    nodes: IntArray


@dataclass(frozen=True)
class AlongPathReport:
    """What running along the path did.

    Attributes:
        path: Site ids of the path, the ingress first.
        steps: Per stage, its site's step on the path (-1 for a stage free to go elsewhere).
        traffic_mb_hops: MB x hops of the placement.
        cloud_traffic_mb_hops: MB x hops with every along-path stage at the cloud end.
        saved_mb_hops: The difference (what computing on the way saved).
        rounds: Placements it took to put every child at or after its parents on the path.
    """

    path: tuple[str, ...]
    steps: tuple[int, ...]
    traffic_mb_hops: float
    cloud_traffic_mb_hops: float
    saved_mb_hops: float
    rounds: int


def cloud_path(state: ClusterState, ingress_site: str) -> CloudPath:
    """The latency-shortest path from ``ingress_site`` to the nearest top-tier site with nodes.

    Raises:
        GraphPlacementError: No site with a usable node can be reached from the ingress.
    """
    routing = state.routing_graph()
    arrays = state.arrays
    paths = distances_from(routing, ingress_site, excluded_links=state.down_links())
    usable = state.usable()
    with_nodes = np.zeros(routing.n_vertices, dtype=bool)
    with_nodes[arrays.node_vertex[usable]] = True
    reach = with_nodes & np.isfinite(paths.latency_ms[0])
    if not reach.any():
        raise GraphPlacementError(
            f"ingress {ingress_site!r}: no site with a usable node is reached"
        )
    rank = np.where(reach, arrays.vertex_tier_rank, -1)
    top = np.flatnonzero(rank == rank.max())
    target = int(top[np.argmin(paths.latency_ms[0, top])])
    path = paths.path(target)
    vertices = tuple(routing.vertex(v) for v in path.vertices)
    step: dict[int, int] = {}
    for i, vertex in enumerate(vertices):
        if arrays.vertex_is_site[vertex]:
            step.setdefault(vertex, i)
    down = state.down_links()
    for i, vertex in enumerate(vertices):  # sites standing at a router of the path
        if arrays.vertex_is_site[vertex]:
            continue
        ends = (routing.link_a == vertex) | (routing.link_b == vertex)
        if down is not None:
            ends &= ~down
        for k in np.flatnonzero(ends).tolist():
            other = int(routing.link_b[k] if routing.link_a[k] == vertex else routing.link_a[k])
            if arrays.vertex_is_site[other]:
                step.setdefault(other, i)
    on_path = np.zeros(routing.n_vertices, dtype=bool)
    on_path[list(step)] = True
    nodes: IntArray = np.flatnonzero(usable & on_path[arrays.node_vertex]).astype(np.intp)
    ordered = sorted(step, key=lambda v: (step[v], v))
    return CloudPath(
        tuple(routing.vertex_ids[v] for v in ordered),
        tuple(ordered),
        tuple(step[v] for v in ordered),
        nodes,
    )


def path_nodes(
    graph: TaskGraph, state: ClusterState, path: CloudPath, per_site: int = SITE_SHARE
) -> IntArray:
    """The nodes of ``path`` an along-path stage may take, to add to the graph's candidates.

    Per kind of demand of the along-path stages and per site of the path, the ``per_site``
    fitting nodes of least compute time, more where they hold less than twice what the kind's
    stages ask of the resource it is bound by (cores, or its device): a large site adds no
    more nodes than its part of the path can use.
    """
    kinds: dict[Kind, list[int]] = {}
    for s, stage in enumerate(graph.stages):
        if graph.runs_along_path(s):
            kinds.setdefault(demand_key(stage), []).append(s)
    free = free_room(state)
    site_of = state.arrays.node_vertex[path.nodes]
    picked: list[IntArray] = []
    for key, members in kinds.items():
        demand = np.array([demand_row(graph.stages[s]) for s in members])
        rate = state.static_demand(*key).ms_per_gflop[path.nodes]
        fits = np.isfinite(rate) & (free[path.nodes] >= demand.max(axis=0) - 1e-9).all(axis=1)
        column = 2 + int(np.argmax(demand[0, 2:])) if demand[0, 2:].any() else 0
        needed = 2.0 * float(demand[:, column].sum())
        for vertex in path.vertices:
            here = np.flatnonzero(fits & (site_of == vertex))
            here = here[np.argsort(rate[here], kind="stable")]
            held = np.cumsum(free[path.nodes[here], column])
            count = max(per_site, int(np.searchsorted(held, needed)) + 1)
            picked.append(path.nodes[here[:count]])
    if not picked:
        return np.zeros(0, dtype=np.intp)
    return np.unique(np.concatenate(picked)).astype(np.intp)


def _steps(costs: GraphCosts, state: ClusterState, path: CloudPath) -> IntArray:
    """Per position of ``costs``, the step of its node's site on ``path`` (-1 off the path)."""
    step_of = dict(zip(path.vertices, path.steps, strict=True))
    vertex = state.arrays.node_vertex[costs.nodes]
    return np.array([step_of.get(int(v), -1) for v in vertex.tolist()], dtype=np.intp)


def _restricted(costs: GraphCosts, allowed: npt.NDArray[np.bool_]) -> GraphCosts:
    """``costs`` with each stage kept to the positions ``allowed`` marks."""
    compute = np.where(allowed, costs.compute_ms, np.inf)
    candidates = tuple(c[allowed[s, c]] for s, c in enumerate(costs.candidates))
    return dataclasses.replace(costs, compute_ms=compute, candidates=candidates)


def along_path_schedule(
    graph: TaskGraph,
    costs: GraphCosts,
    state: ClusterState,
    path: CloudPath,
    traffic_weight: float,
) -> tuple[GraphSchedule, AlongPathReport, GraphCosts]:
    """Place ``graph`` with its along-path stages kept to ``path`` (module docstring).

    Returns:
        The schedule, its report, and the cost model it was placed on (``costs`` with the
        along-path stages kept to the path's nodes at their allowed steps).

    Raises:
        GraphPlacementError: An along-path stage has no node left on the path (named).
    """
    steps = _steps(costs, state, path)
    along = [graph.runs_along_path(s) for s in range(len(graph.stages))]
    allowed = np.ones(costs.compute_ms.shape, dtype=bool)
    for s, flag in enumerate(along):
        if flag:
            allowed[s] &= steps >= 0
    bound = int(allowed.sum()) + 1
    for rounds in range(1, bound + 1):
        for s in range(len(graph.stages)):
            if not (allowed[s] & np.isfinite(costs.compute_ms[s])).any():
                raise GraphPlacementError(
                    f"graph {graph.id!r}: stage {graph.stages[s].id!r} runs along the path "
                    f"{' -> '.join(path.sites)} and no node there can take it"
                )
        kept = _restricted(costs, allowed)
        schedule = list_schedule(graph, kept, traffic_weight)
        step = steps[schedule.position]
        late = False
        for u, v in graph.ends:
            if along[u] and along[v] and step[v] < step[u]:
                allowed[v] &= steps >= step[u]
                late = True
        if not late:
            report = _report(
                graph, costs, path, steps=steps, schedule=schedule, along=along, rounds=rounds
            )
            return schedule, report, kept
    raise GraphPlacementError(f"graph {graph.id!r}: along-path placement did not settle")


def _report(
    graph: TaskGraph,
    costs: GraphCosts,
    path: CloudPath,
    *,
    steps: IntArray,
    schedule: GraphSchedule,
    along: list[bool],
    rounds: int,
) -> AlongPathReport:
    """The along-path report of ``schedule``, with its cloud-end counterfactual."""
    cloud = schedule.position.copy()
    for s, flag in enumerate(along):
        if not flag:
            continue
        runs = np.flatnonzero((steps >= 0) & np.isfinite(costs.compute_ms[s]))
        if runs.size:  # the farthest step it can run at, the lowest position there
            cloud[s] = int(runs[np.lexsort((runs, -steps[runs]))[0]])
    baseline = evaluate(graph, costs, cloud).traffic_mb_hops
    shown = tuple(
        int(steps[p]) if along[s] else -1 for s, p in enumerate(schedule.position.tolist())
    )
    return AlongPathReport(
        path=path.sites,
        steps=shown,
        traffic_mb_hops=schedule.traffic_mb_hops,
        cloud_traffic_mb_hops=baseline,
        saved_mb_hops=baseline - schedule.traffic_mb_hops,
        rounds=rounds,
    )
