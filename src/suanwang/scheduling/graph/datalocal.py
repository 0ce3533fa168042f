"""Stages that read datasets (东数西存, "next to their data") in a graph's cost model.

A stage naming ``datasets`` reads each of them where it runs: one not held at its node's site
moves there from the nearest replica first (``scheduling.datasets.dataset_reach``: size over the
residual bottleneck of the path, and its price per GB along it), so the move is added to the
stage's compute time and price in the cost model (the list scheduler, the MILP and ``evaluate``
then all count it; it holds no link). The nodes at the replicas' sites join the candidates
(``data_nodes``), so the data-local choice is always on the table.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from suanwang.model.graph import TaskGraph
from suanwang.scheduling.datasets import dataset_reach, datasets_at
from suanwang.scheduling.graph.costs import GraphCosts, GraphPlacementError, IntArray
from suanwang.scheduling.state import ClusterState


def check_datasets(graph: TaskGraph, state: ClusterState) -> None:
    """Refuse a stage that names a dataset the topology does not hold.

    Raises:
        GraphPlacementError: The message names the stage and the dataset id.
    """
    known = state.topology.datasets
    for stage in graph.stages:
        for dataset_id in stage.datasets:
            if dataset_id not in known:
                raise GraphPlacementError(
                    f"graph {graph.id!r}: stage {stage.id!r}: datasets names an unknown "
                    f"dataset, got {dataset_id!r}"
                )


def data_nodes(graph: TaskGraph, state: ClusterState) -> IntArray:
    """Usable nodes at sites holding a replica of a dataset some stage reads."""
    vertex = state.arrays.node_vertex
    local = np.zeros(vertex.size, dtype=bool)
    for dataset_id in sorted({d for stage in graph.stages for d in stage.datasets}):
        local |= dataset_reach(state, dataset_id).local[vertex]
    found: IntArray = np.flatnonzero(local & state.usable()).astype(np.intp)
    return found


def read_ms(state: ClusterState, dataset_ids: tuple[str, ...], node: int) -> float:
    """Time the model gives to moving ``dataset_ids`` to node ``node`` (0 where all are local)."""
    if not dataset_ids:
        return 0.0
    return float(datasets_at(state, dataset_ids, node, "transfer_ms"))


def with_dataset_reads(graph: TaskGraph, costs: GraphCosts, state: ClusterState) -> GraphCosts:
    """``costs`` with each stage's dataset moves added to its time and price (module docstring).

    Raises:
        GraphPlacementError: A stage's datasets reach none of its candidates.
    """
    compute = costs.compute_ms.copy()
    cost = costs.cost.copy()
    candidates = list(costs.candidates)
    for s, stage in enumerate(graph.stages):
        if not stage.datasets:
            continue
        compute[s] += datasets_at(state, stage.datasets, costs.nodes, "transfer_ms")
        cost[s] += datasets_at(state, stage.datasets, costs.nodes, "cost")
        kept = candidates[s][np.isfinite(compute[s, candidates[s]])]
        if kept.size == 0:
            raise GraphPlacementError(
                f"graph {graph.id!r}: stage {stage.id!r}: datasets {list(stage.datasets)} "
                "reach no node that can run it"
            )
        candidates[s] = kept
    return dataclasses.replace(costs, compute_ms=compute, cost=cost, candidates=tuple(candidates))
