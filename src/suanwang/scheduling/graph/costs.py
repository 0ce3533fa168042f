"""The cost model of placing a task graph: the one figure set the list scheduler and the MILP share.

For a graph on a cluster state it fixes, over a set of nodes ``N``:

* compute_ms[s, n]: the stage's work x the node's ms per GFLOP for its kind of demand, the same
  figure as a scheduling cycle's ``compute_ms`` (``ClusterState.static_demand``: the peak rate
  of the stage's device at its precision x efficiency x the share of the node it holds);
  ``inf`` where the node cannot run it (no such device, down, or not enough free room alone);
* comm_ms(a, b, data_mb) between the sites of two nodes: the one-way latency of the
  latency-shortest path (``routing.distances_from`` over the state's routing graph, down links
  excluded, bottleneck over the ledger's residual bandwidth) + ``routing.transfer_time_ms`` of
  the data at that bottleneck; two nodes of one site are 0 ms apart. From and to the ingress
  site the same.
* demand[s, r] and free[n, r] over the resources cores, memory and devices of each kind: a
  stage holds its demand on its node for the graph's run (reserved in the ledger), so stages
  share a node side by side while its free room lasts and never wait for one another there.

With ``candidates_per_stage = k`` (the online path) each kind of demand gets as candidates the
``k`` nodes that fit with the least compute time and the ``k`` with the least round trip from
the ingress plus compute time, at most ``SITE_SHARE`` of them from one site (nodes of one site
are alike to the network, so more of them add capacity but no choice), each list longer where
``k`` nodes hold less than twice what the kind's stages ask (of cores, or of its device); ``N``
is their union. With ``None`` (the MILP, small instances) a stage's candidates are every node
that fits it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanwang.model import ACCELERATOR_KINDS
from suanwang.model.graph import Stage, TaskGraph
from suanwang.routing import distances_from, transfer_time_ms
from suanwang.scheduling.cycle import device_of, workload_class_of
from suanwang.scheduling.graph.stagecosts import Kind, compute_cost, compute_ms, device_memory_fits
from suanwang.scheduling.state import ClusterState

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

SITE_SHARE = 4
"""Most candidate nodes one site contributes per kind of demand and criterion."""
_SLACK = 1e-9


class GraphPlacementError(ValueError):
    """A graph cannot be placed: no ingress, or a stage no node can take (the reason names it)."""


@dataclass(frozen=True, eq=False)
class GraphCosts:
    """Every figure a placement of ``graph`` is judged by (module docstring).

    Attributes:
        nodes: Node indexes (``TopologyArrays`` order) of the nodes considered, ascending;
            a *position* below is an index into this array.
        candidates: Per stage, the positions it may go to (compute finite), ascending.
        compute_ms: ``(stages, positions)`` compute time; ``inf`` where it cannot run.
        cost: ``(stages, positions)`` price of the stage's compute there.
        demand: ``(stages, resources)``: cores, GiB, then devices of each accelerator kind.
        free: ``(positions, resources)`` free room on each node now.
        node_site: Per position, the row of its site in the site matrices.
        ingress: Row of the ingress site in the site matrices.
        latency_ms: ``(sites, sites)`` one-way latency; ``inf`` where unreachable.
        ms_per_mb: ``(sites, sites)`` transfer time of one MB at the path's bottleneck.
        hops: ``(sites, sites)`` links on the path (-1 where unreachable).
        edge_data_mb: Per edge, its data in MB.
        input_mb: Per stage, data from the ingress.
        result_mb: Per stage, data back to the ingress.
    """

    nodes: IntArray
    candidates: tuple[IntArray, ...]
    compute_ms: FloatArray
    cost: FloatArray
    demand: FloatArray
    free: FloatArray
    node_site: IntArray
    ingress: int
    latency_ms: FloatArray
    ms_per_mb: FloatArray
    hops: npt.NDArray[np.int64]
    edge_data_mb: FloatArray
    input_mb: FloatArray
    result_mb: FloatArray

    def comm_ms(self, site_a: int, sites_b: IntArray, data_mb: float) -> FloatArray:
        """Time for ``data_mb`` to go from site row ``site_a`` to each of ``sites_b``."""
        latency: FloatArray = self.latency_ms[site_a][sites_b]
        if data_mb <= 0:
            return latency
        per_mb: FloatArray = self.ms_per_mb[site_a][sites_b]
        return latency + data_mb * per_mb


_Kind = Kind


def demand_key(stage: Stage) -> _Kind:
    """The stage's kind of demand: stages of one kind share candidates and rates."""
    spec = stage.spec
    need = spec.accelerator
    held = spec.cpu_cores if need is None else need.count
    return (device_of(spec), float(held), spec.precision, workload_class_of(spec))


def demand_row(stage: Stage) -> FloatArray:
    """The stage's demand over the resources: cores, GiB, devices of each kind."""
    row = np.zeros(2 + len(ACCELERATOR_KINDS))
    row[0], row[1] = stage.cpu_cores, stage.mem_gib
    need = stage.accelerator
    if need is not None:
        row[2 + ACCELERATOR_KINDS.index(need.kind)] = need.count
    return row


def free_room(state: ClusterState) -> FloatArray:
    """``(nodes, resources)`` free room of every node now, in ``demand_row``'s columns."""
    ledger = state.reservations
    return np.column_stack(
        (state.free_cpu_cores(), ledger.free_mem_gib(), ledger.free_accelerators())
    )


def _pick(
    score: FloatArray,
    fits: npt.NDArray[np.bool_],
    site: IntArray,
    k: int,
    *,
    capacity: FloatArray,
    needed: float,
) -> IntArray:
    """The fitting nodes of least ``score``, at most ``SITE_SHARE`` from any one site.

    At least ``k`` of them, and more until their ``capacity`` (of the resource the kind is
    bound by) reaches ``needed``.
    """
    index = np.flatnonzero(fits & np.isfinite(score))
    order = index[np.argsort(score[index], kind="stable")]
    sites = site[order]
    by_site = np.argsort(sites, kind="stable")
    grouped = sites[by_site]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    lengths = np.diff(np.r_[starts, grouped.size])
    rank = np.empty(order.size, dtype=np.intp)
    rank[by_site] = np.arange(grouped.size) - np.repeat(starts, lengths)
    kept = order[rank < SITE_SHARE]
    enough = int(np.searchsorted(np.cumsum(capacity[kept]), needed)) + 1
    picked: IntArray = kept[: max(k, enough)]
    return picked


def check_ingress(graph: TaskGraph, state: ClusterState) -> str:
    """The graph's ingress site; refused where it has none or the topology does not hold it.

    Raises:
        GraphPlacementError: The message names the field and the value.
    """
    if graph.ingress_site is None:
        raise GraphPlacementError(f"graph {graph.id!r}: ingress_site is needed to place it")
    if graph.ingress_site not in state.topology.sites:
        raise GraphPlacementError(
            f"graph {graph.id!r}: ingress_site names no site of the topology, "
            f"got {graph.ingress_site!r}"
        )
    return graph.ingress_site


def graph_costs(
    graph: TaskGraph,
    state: ClusterState,
    candidates_per_stage: int | None = None,
    *,
    include: IntArray | None = None,
) -> GraphCosts:
    """The cost model of ``graph`` on ``state`` (module docstring).

    Args:
        graph: The task graph; it needs an ``ingress_site``.
        state: The cluster as it is now (free room, down nodes and links, measured latency).
        candidates_per_stage: ``k`` of the candidate prefilter, or None for every node.
        include: Node indexes to consider besides the prefilter's (where they fit a kind's
            stages): the nodes of the path toward the cloud, or those next to a dataset.

    Raises:
        GraphPlacementError: No ingress site, or some stage fits no node at all.
    """
    ingress_site = check_ingress(graph, state)
    demand = np.array([demand_row(stage) for stage in graph.stages])
    work = np.array([stage.work_gflop for stage in graph.stages])
    kinds: dict[_Kind, list[int]] = {}
    for s, stage in enumerate(graph.stages):
        kinds.setdefault(demand_key(stage), []).append(s)
    free_all = free_room(state)
    picks = _picks(graph, state, kinds, demand, free_all, k=candidates_per_stage)
    if include is not None and candidates_per_stage is not None:
        extra = np.asarray(include, dtype=np.intp)
        picks = {key: np.union1d(nodes, extra) for key, nodes in picks.items()}
    nodes = np.unique(np.concatenate(list(picks.values()))).astype(np.intp)
    free = free_all[nodes]
    compute = compute_ms(graph, state, kinds, nodes, work)
    alone = (free[None, :, :] >= demand[:, None, :] - _SLACK).all(axis=2)
    compute = np.where(alone & state.usable()[nodes][None, :], compute, np.inf)
    member_of = {s: key for key, members in kinds.items() for s in members}
    candidates = []
    for s, stage in enumerate(graph.stages):
        positions = np.searchsorted(nodes, picks[member_of[s]])
        positions = positions[np.isfinite(compute[s, positions])]
        if positions.size == 0:
            raise GraphPlacementError(
                f"graph {graph.id!r}: stage {stage.id!r} fits no candidate node"
            )
        candidates.append(positions)
    routing = state.routing_graph()
    sites, node_site = np.unique(state.arrays.node_vertex[nodes], return_inverse=True)
    rows = np.r_[sites, routing.vertex(ingress_site)]
    paths = distances_from(
        routing,
        rows,
        residual_bandwidth_mbps=state.reservations.residual_mbps(),
        excluded_links=state.down_links(),
    )
    latency = np.asarray(paths.latency_ms[:, rows], dtype=np.float64)
    bottleneck = np.asarray(paths.bottleneck_mbps[:, rows], dtype=np.float64)
    ms_per_mb = transfer_time_ms(np.ones_like(bottleneck), bottleneck)
    return GraphCosts(
        nodes=nodes,
        candidates=tuple(candidates),
        compute_ms=compute,
        cost=compute_cost(state, kinds, nodes, work),
        demand=demand,
        free=free,
        node_site=node_site.astype(np.intp),
        ingress=int(rows.size - 1),
        latency_ms=latency,
        ms_per_mb=np.where(np.isfinite(latency), ms_per_mb, np.inf),
        hops=np.asarray(paths.hops[:, rows], dtype=np.int64),
        edge_data_mb=np.asarray(graph.edge_data_mb, dtype=np.float64),
        input_mb=np.array([stage.input_mb for stage in graph.stages]),
        result_mb=np.array([stage.result_mb for stage in graph.stages]),
    )


def _picks(
    graph: TaskGraph,
    state: ClusterState,
    kinds: dict[_Kind, list[int]],
    demand: FloatArray,
    free_all: FloatArray,
    *,
    k: int | None,
) -> dict[_Kind, IntArray]:
    """Per kind of demand, the node indexes its stages may go to (module docstring)."""
    routing = state.routing_graph()
    usable = state.usable()
    site = state.arrays.node_vertex.astype(np.intp)
    from_ingress = distances_from(
        routing, graph.ingress_site or "", excluded_links=state.down_links()
    ).latency_ms[0, routing.node_vertex]
    picks: dict[_Kind, IntArray] = {}
    for key, members in kinds.items():
        per_gflop = state.static_demand(*key).ms_per_gflop
        need = demand[members].max(axis=0)
        fits = usable & np.isfinite(per_gflop) & (free_all >= need - _SLACK).all(axis=1)
        fits &= device_memory_fits(state, [graph.stages[s] for s in members])
        if not fits.any():
            raise GraphPlacementError(
                f"graph {graph.id!r}: stage {graph.stages[members[0]].id!r} fits no node "
                "(device, precision or free room)"
            )
        if k is None:
            picks[key] = np.flatnonzero(fits)
            continue
        typical_ms = per_gflop * float(np.median([graph.stages[s].work_gflop for s in members]))
        devices = need[2:]  # the kind is bound by its device where it has one, else by cores
        column = 2 + int(np.argmax(devices)) if devices.any() else 0
        bound = {"capacity": free_all[:, column], "needed": 2.0 * demand[members, column].sum()}
        picks[key] = np.union1d(
            _pick(typical_ms, fits, site, k, **bound),
            _pick(typical_ms + 2.0 * from_ingress, fits, site, k, **bound),
        )
    return picks
