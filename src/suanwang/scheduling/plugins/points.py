"""The default PreFilter and Reserve plugins."""

from __future__ import annotations

import numpy as np

from suanwang.model import ACCELERATOR_KINDS, Placement
from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.framework import SUCCESS, Code, Status
from suanwang.scheduling.reservations import OverCommitError, Reservation, Reservations


class RequestCheck:
    """The request must name a known ingress site and a demand some node could ever hold.

    A demand that no node could hold even when idle (more cores than any node has, a device kind
    nobody offers, a precision no device runs) is an ERROR: retrying cannot help. The answer
    depends on the demand's shape only, so it is kept per shape.
    """

    name = "request-check"
    _SHAPES_KEPT = 1024

    def __init__(self) -> None:
        self._possible: dict[tuple[object, ...], str] = {}

    def pre_filter(self, cycle: Cycle) -> Status:
        """ERROR for a missing or unknown ingress or an impossible demand; else SUCCESS."""
        spec = cycle.spec
        ingress = spec.ingress_site
        if ingress is None:
            return Status(Code.ERROR, "the task names no ingress site", self.name)
        if ingress not in cycle.state.topology.sites:
            return Status(Code.ERROR, f"unknown ingress site {ingress!r}", self.name)
        need = spec.accelerator
        shape = (
            spec.cpu_cores,
            spec.mem_gib,
            spec.precision,
            spec.task_class,
            None if need is None else (need.kind, need.count, need.min_mem_gib),
        )
        problem = self._possible.get(shape)
        if problem is None:
            if len(self._possible) >= self._SHAPES_KEPT:
                self._possible.clear()
            problem = self._possible[shape] = _impossible(cycle)
        return Status(Code.ERROR, problem, self.name) if problem else SUCCESS


def _impossible(cycle: Cycle) -> str:
    """Why no node could hold the demand even idle ("" when some node could)."""
    spec, arrays, state = cycle.spec, cycle.state.arrays, cycle.state
    fits = arrays.node_cpu_cores >= spec.cpu_cores - 1e-9
    if not fits.any():
        return f"no node has {spec.cpu_cores:g} CPU cores"
    fits &= arrays.node_mem_gib >= spec.mem_gib - 1e-9
    if not fits.any():
        return f"no node has {spec.cpu_cores:g} CPU cores and {spec.mem_gib:g} GiB memory"
    need = spec.accelerator
    if need is not None:
        k = ACCELERATOR_KINDS.index(need.kind)
        fits &= arrays.node_accel_count[:, k] >= need.count
        fits &= state.sites.accel_mem_gib[:, k] >= need.min_mem_gib
        if not fits.any():
            return (
                f"no node has {need.count} {need.kind} of {need.min_mem_gib:g} GiB "
                "with the CPU cores and memory asked for"
            )
    if spec.cpu_cores <= 0 and need is None:
        return "CPU work needs at least one CPU core"
    if not (fits & np.isfinite(cycle.compute_ms())).any():
        device = "CPU" if need is None else str(need.kind)
        return f"no {device} that could hold the task runs {spec.precision}"
    return ""


class LedgerReserve:
    """Reserves cores, memory and devices on the node and bandwidth on every path link.

    Args:
        ledger: The reservation ledger the cycle's state uses.
    """

    name = "ledger"

    def __init__(self, ledger: Reservations) -> None:
        self._ledger = ledger

    def reserve(self, cycle: Cycle, placement: Placement) -> Status:
        """Hold the placement's resources; UNSCHEDULABLE (nothing held) if they are gone."""
        if cycle.chosen_node is None or cycle.chosen_path is None:
            return Status(Code.ERROR, "reserve called before a node was chosen", self.name)
        reservation = Reservation.of(
            placement.task_id,
            cycle.chosen_node,
            cycle.spec,
            cycle.chosen_path.link_indexes,
            placement.reserved_bandwidth_mbps,
        )
        try:
            self._ledger.reserve(reservation)
        except OverCommitError as error:
            return Status(Code.UNSCHEDULABLE, str(error), self.name)
        return SUCCESS

    def unreserve(self, task_id: str) -> None:
        """Give back what the task holds."""
        self._ledger.release(task_id)
