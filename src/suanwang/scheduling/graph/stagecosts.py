"""Per stage and node of a graph's cost model: compute time, device memory, compute price.

Split from ``costs`` (which builds the whole model); the figures are those of a scheduling
cycle's ``static_demand`` for the stage's kind of demand.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from suanwang.measure.compute import WorkloadClass
from suanwang.model import ACCELERATOR_KINDS, Precision
from suanwang.model.graph import Stage, TaskGraph
from suanwang.scheduling.state import ClusterState

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Kind = tuple[str, float, Precision, WorkloadClass]
"""A kind of demand: device, cores or devices held, precision, workload class."""


def compute_ms(
    graph: TaskGraph,
    state: ClusterState,
    kinds: dict[Kind, list[int]],
    nodes: IntArray,
    work: FloatArray,
) -> FloatArray:
    """``(stages, nodes)`` compute time, ``inf`` where the device or its memory is missing."""
    compute = np.empty((len(graph.stages), nodes.size))
    for key, members in kinds.items():
        rate = state.static_demand(*key).ms_per_gflop[nodes]
        finite = np.isfinite(rate)
        for s in members:  # no work: 0 where the device exists (inf x 0 would be NaN)
            compute[s] = np.where(finite, rate * work[s] if work[s] else 0.0, np.inf)
    accel_mem_gib = state.sites.accel_mem_gib[nodes]
    for s, stage in enumerate(graph.stages):
        need = stage.accelerator
        if need is not None and need.min_mem_gib > 0:
            k = ACCELERATOR_KINDS.index(need.kind)
            compute[s] = np.where(accel_mem_gib[:, k] >= need.min_mem_gib, compute[s], np.inf)
    return compute


def device_memory_fits(state: ClusterState, stages: list[Stage]) -> npt.NDArray[np.bool_]:
    """Nodes whose devices have the memory each of ``stages`` asks per device."""
    fits = np.ones(len(state.arrays.node_ids), dtype=bool)
    for stage in stages:
        need = stage.accelerator
        if need is not None and need.min_mem_gib > 0:
            k = ACCELERATOR_KINDS.index(need.kind)
            fits &= state.sites.accel_mem_gib[:, k] >= need.min_mem_gib
    return fits


def compute_cost(
    state: ClusterState, kinds: dict[Kind, list[int]], nodes: IntArray, work: FloatArray
) -> FloatArray:
    """``(stages, nodes)`` price of each stage's compute (``cost_per_gflop`` x work)."""
    cost = np.empty((work.size, nodes.size))
    for key, members in kinds.items():
        per_gflop = state.static_demand(*key).cost_per_gflop[nodes]
        finite = np.isfinite(per_gflop)
        for s in members:
            cost[s] = np.where(finite, per_gflop * work[s] if work[s] else 0.0, np.inf)
    return cost
