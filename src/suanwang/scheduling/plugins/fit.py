"""Filters on the node itself: health (awareness) and resource fit."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from suanwang.model import ACCELERATOR_KINDS
from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.framework import BoolArray, Stage


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
    """Free CPU cores, memory and accelerators (kind, count, device memory, precision)."""

    name = "resource-fit"
    stage: ClassVar[Stage] = Stage.PRE_ROUTE

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes with room for the task and a device that runs its precision."""
        spec, ledger = cycle.spec, cycle.state.reservations
        fits = ledger.free_cpu_cores() >= spec.cpu_cores - 1e-9
        fits &= ledger.free_mem_gib() >= spec.mem_gib - 1e-9
        need = spec.accelerator
        if need is not None:
            k = ACCELERATOR_KINDS.index(need.kind)
            fits &= ledger.free_accelerators_of(k) >= need.count
            fits &= cycle.state.sites.accel_mem_gib[:, k] >= need.min_mem_gib
        fits &= np.isfinite(cycle.compute_ms())
        return fits

    def explain(self, cycle: Cycle, node: int) -> str:
        """The first resource that falls short, with the figures."""
        spec, ledger = cycle.spec, cycle.state.reservations
        free_cpu = float(ledger.free_cpu_cores()[node])
        if free_cpu < spec.cpu_cores - 1e-9:
            return f"needs {spec.cpu_cores:g} free CPU cores, has {free_cpu:g}"
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
