"""Filters on the node itself: health (awareness) and resource fit."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from suanwang.model import ACCELERATOR_KINDS
from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.framework import BoolArray, FloatArray, IntArray, Miss, Stage


class NodeHealth:
    """Rejects nodes marked down and nodes awareness excluded (silent past the timeout)."""

    name = "node-health"
    stage: ClassVar[Stage] = Stage.PRE_ROUTE

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes up and not excluded by the snapshot."""
        return cycle.state.usable()

    def explain(self, cycle: Cycle, node: int) -> str:
        """Why a node is excluded."""
        if cycle.state.node_down[node]:
            return "node is down"
        snapshot = cycle.state.snapshot
        age = float("nan") if snapshot is None else float(snapshot.age_s[node])
        return f"excluded by awareness: no report for {age:.0f} s"


class ResourceFit:
    """Free CPU cores, memory and accelerators (kind, count, device memory, precision).

    Free cores are the ledger's, capped by the cores the node's agent measured free where it
    reports (``ClusterState.free_cpu_cores``): a node saturated by work the ledger does not
    know of takes nothing new.
    """

    name = "resource-fit"
    stage: ClassVar[Stage] = Stage.PRE_ROUTE

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes with room for the task and a device that runs its precision."""
        spec, ledger = cycle.spec, cycle.state.reservations
        fits = cycle.state.free_cpu_cores() >= spec.cpu_cores - 1e-9
        fits &= ledger.free_mem_gib() >= spec.mem_gib - 1e-9
        need = spec.accelerator
        if need is not None:
            k = ACCELERATOR_KINDS.index(need.kind)
            fits &= ledger.free_accelerators_of(k) >= need.count
            fits &= cycle.state.sites.accel_mem_gib[:, k] >= need.min_mem_gib
        fits &= np.isfinite(cycle.compute_ms())
        return fits

    def never(self, cycle: Cycle) -> BoolArray:
        """Nodes too small in all (cores, memory, devices) or without a rate for the task."""
        spec, arrays = cycle.spec, cycle.state.arrays
        small = arrays.node_cpu_cores < spec.cpu_cores - 1e-9
        small |= arrays.node_mem_gib < spec.mem_gib - 1e-9
        need = spec.accelerator
        if need is not None:
            k = ACCELERATOR_KINDS.index(need.kind)
            small |= arrays.node_accel_count[:, k] < need.count
            small |= cycle.state.sites.accel_mem_gib[:, k] < need.min_mem_gib
        return small | ~np.isfinite(cycle.compute_ms())

    def explain(self, cycle: Cycle, node: int) -> str:
        """The first resource that falls short, with the figures."""
        spec, ledger = cycle.spec, cycle.state.reservations
        free_cpu = float(cycle.state.free_cpu_cores()[node])
        if free_cpu < spec.cpu_cores - 1e-9:
            reserved = float(ledger.free_cpu_cores()[node])
            source = "" if free_cpu >= reserved else " (measured by its agent)"
            return f"needs {spec.cpu_cores:g} free CPU cores, has {free_cpu:.3g}{source}"
        free_mem = float(ledger.free_mem_gib()[node])
        if free_mem < spec.mem_gib - 1e-9:
            return f"needs {spec.mem_gib:g} GiB free memory, has {free_mem:g}"
        need = spec.accelerator
        if need is not None:
            k = ACCELERATOR_KINDS.index(need.kind)
            free = float(ledger.free_accelerators()[node, k])
            if free < need.count:
                return f"needs {need.count} free {need.kind}, has {free:g}"
            mem = float(cycle.state.sites.accel_mem_gib[node, k])
            if mem < need.min_mem_gib:
                return f"needs {need.min_mem_gib:g} GiB per {need.kind}, devices have {mem:g}"
        device = "CPU" if need is None else str(need.kind)
        return f"its {device} has no rate at {spec.precision}"

    def miss(self, cycle: Cycle, nodes: IntArray) -> Miss:
        """The first resource that falls short (as in ``explain``) and the amount missing.

        ``inf`` where the node has less in all than the task holds (no release of other tasks
        would make room), for device memory (it never frees up) and for a missing rate.
        """
        spec, ledger, arrays = cycle.spec, cycle.state.reservations, cycle.state.arrays
        need = spec.accelerator
        device = "CPU" if need is None else str(need.kind)
        kinds = ("free CPU cores", "free memory", f"free {device}", f"{device} memory")
        kind = np.full(len(nodes), len(kinds), dtype=np.intp)  # unless found below: no rate
        short_by = np.full(len(nodes), np.inf)
        open_ = np.ones(len(nodes), dtype=bool)

        def check(k: int, wanted: float, free: FloatArray, total: FloatArray, slack: float) -> None:
            lacking = open_ & (free < wanted - slack)
            kind[lacking] = k
            short_by[lacking] = np.where(
                total[lacking] < wanted - slack, np.inf, wanted - free[lacking]
            )
            open_[lacking] = False

        free_cpu = cycle.state.free_cpu_cores()[nodes]
        check(0, spec.cpu_cores, free_cpu, arrays.node_cpu_cores[nodes], 1e-9)
        check(1, spec.mem_gib, ledger.free_mem_gib()[nodes], arrays.node_mem_gib[nodes], 1e-9)
        if need is not None:
            k = ACCELERATOR_KINDS.index(need.kind)
            have = arrays.node_accel_count[nodes, k].astype(np.float64)
            check(2, need.count, ledger.free_accelerators_of(k)[nodes], have, 0.0)
            memory = cycle.state.sites.accel_mem_gib[nodes, k]
            check(3, need.min_mem_gib, memory, memory, 0.0)
        units = ("cores", "GiB", "devices", "GiB", "")
        return Miss((*kinds, f"a rate at {spec.precision}"), units, kind, short_by)
