"""Where a task's input datasets come from: transfer time and price per vertex, per dataset.

A dataset not held at a node's site moves there from the nearest site holding a replica (least
one-way latency over the links up now): it takes ``size_mb x 8 / bottleneck_mbps x 1000`` ms,
the bottleneck being the least residual bandwidth along that path (dataset transfers reserve
none), and costs ``size_gb x`` the sum of ``cost_per_gb`` along it. At a replica's site both
are 0; where no replica can be reached (or the dataset is unknown) both are ``inf``.

The figures are per vertex, computed with one multi-source Dijkstra (the routing graph's cached
trees) and a level-by-level fold over hops (vectorised over vertices), and kept per (routing
graph, ledger and its link fill, links down, dataset): cycles index them with each node's vertex.
Graph, ledger and dataset are told apart by identity (held in the entry, so that an id is
never reused while it is kept): two states on one topology have ledgers of their own.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from suanwang.model import MB_PER_GB, Dataset
from suanwang.routing.graph import RoutingGraph
from suanwang.routing.shortest import ShortestPaths, distances_from
from suanwang.scheduling.reservations import Reservations
from suanwang.scheduling.state import ClusterState

FloatArray = npt.NDArray[np.float64]
MBIT_PER_MB = 8.0
"""Megabits in a megabyte."""
_KEPT = 512
"""Dataset figures kept (each two float arrays over vertices)."""


@dataclass(frozen=True, slots=True, eq=False)
class DatasetReach:
    """Per vertex, what reading one dataset there takes.

    Attributes:
        transfer_ms: Time to move the dataset from its nearest replica (0 at a replica site).
        cost: Price of moving it along that path (0 at a replica site).
        local: True at the sites holding a replica.
    """

    transfer_ms: FloatArray
    cost: FloatArray
    local: npt.NDArray[np.bool_]


_UNKNOWN: dict[int, DatasetReach] = {}
_Key = tuple[int, int, int, bytes, str]
_kept: OrderedDict[_Key, tuple[RoutingGraph, Reservations, Dataset, DatasetReach]] = OrderedDict()


def dataset_reach(state: ClusterState, dataset_id: str) -> DatasetReach:
    """The per-vertex figures of reading ``dataset_id`` (see the module docstring), cached."""
    graph = state.routing_graph()
    dataset = state.topology.datasets.get(dataset_id)
    if dataset is None:
        return _unknown(graph.n_vertices)
    down = state.down_links()
    ledger = state.reservations
    key = (
        id(graph),
        id(ledger),
        ledger.link_version,
        b"" if down is None else np.packbits(down).tobytes(),
        dataset_id,
    )
    kept = _kept.get(key)
    if kept is not None and kept[0] is graph and kept[1] is ledger and kept[2] is dataset:
        return kept[3]
    reach = _build(state, graph, dataset, down)
    _kept[key] = (graph, ledger, dataset, reach)
    while len(_kept) > _KEPT:
        _kept.popitem(last=False)
    return reach


def datasets_at(
    state: ClusterState,
    dataset_ids: tuple[str, ...],
    at: Any,
    figure: Literal["transfer_ms", "cost"],
) -> Any:
    """The sum over ``dataset_ids`` of ``figure`` at node(s) ``at`` (an index, a slice or one)."""
    vertex = state.arrays.node_vertex[at]
    total: Any = 0.0
    for dataset_id in dataset_ids:  # per dataset, vectorised over the nodes
        total = total + getattr(dataset_reach(state, dataset_id), figure)[vertex]
    return total


def local_share(state: ClusterState, dataset_ids: tuple[str, ...]) -> FloatArray:
    """Per node, the share of the known input datasets' megabytes held at its site (0..1).

    1 everywhere when the datasets weigh nothing (nothing to move, every node is as local).
    """
    vertex = state.arrays.node_vertex
    known = state.topology.datasets
    named = [known[d] for d in dataset_ids if d in known]
    total_mb = sum(d.size_mb for d in named)
    if total_mb <= 0:
        return np.ones(len(vertex))
    held = np.zeros(len(vertex))
    for dataset in named:
        held += np.where(dataset_reach(state, dataset.id).local[vertex], dataset.size_mb, 0.0)
    result: FloatArray = held / total_mb
    return result


def _unknown(n_vertices: int) -> DatasetReach:
    reach = _UNKNOWN.get(n_vertices)
    if reach is None:
        never = np.full(n_vertices, np.inf)
        never.flags.writeable = False
        local = np.zeros(n_vertices, dtype=bool)
        local.flags.writeable = False
        reach = _UNKNOWN[n_vertices] = DatasetReach(never, never, local)
    return reach


def _build(
    state: ClusterState,
    graph: RoutingGraph,
    dataset: Dataset,
    down: npt.NDArray[np.bool_] | None,
) -> DatasetReach:
    paths = distances_from(
        graph,
        list(dataset.sites),
        residual_bandwidth_mbps=state.reservations.residual_mbps(),
        excluded_links=down,
    )
    nearest = np.argmin(paths.latency_ms, axis=0)  # the replica each vertex reads from
    columns = np.arange(graph.n_vertices)
    bottleneck = paths.bottleneck_mbps[nearest, columns]
    reachable = np.isfinite(paths.latency_ms[nearest, columns])
    local = paths.hops[nearest, columns] == 0
    size_mbit = dataset.size_mb * MBIT_PER_MB
    transfer = np.full(graph.n_vertices, np.inf)
    moving = reachable & ~local
    with np.errstate(divide="ignore"):
        transfer[moving] = size_mbit / bottleneck[moving] * 1000.0
    transfer[local] = 0.0
    price = _path_price(paths, state.arrays.link_cost_per_gb)[nearest, columns]
    cost = np.where(reachable, price * (dataset.size_mb / MB_PER_GB), np.inf)
    cost[local] = 0.0
    for array in (transfer, cost, local):
        array.flags.writeable = False
    return DatasetReach(transfer, cost, local)


def _path_price(paths: ShortestPaths, link_cost_per_gb: FloatArray) -> FloatArray:
    """``(S, V)``: the sum of ``cost_per_gb`` along each path (``inf`` where unreachable).

    One step per hop level, vectorised over the vertices at that level (a path's last link
    is added to its predecessor's sum, which the level before has made).
    """
    hops = paths.hops
    price = np.where(hops >= 0, 0.0, np.inf)
    for row in range(hops.shape[0]):
        row_hops, predecessors = hops[row], paths.predecessors[row]
        links = paths.predecessor_links[row]
        for level in range(1, int(row_hops.max(initial=0)) + 1):
            step = np.flatnonzero(row_hops == level)
            price[row, step] = price[row, predecessors[step]] + link_cost_per_gb[links[step]]
    return price
