"""The default PreFilter, Reserve and Bind plugins."""

from __future__ import annotations

from suanwang.model import Placement
from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.framework import SUCCESS, Code, Status
from suanwang.scheduling.reservations import OverCommitError, Reservation, Reservations


class RequestCheck:
    """The request must name a known ingress site and a demand some node type could meet."""

    name = "request-check"

    def pre_filter(self, cycle: Cycle) -> Status:
        """ERROR for an unknown or missing ingress; SUCCESS otherwise."""
        ingress = cycle.spec.ingress_site
        if ingress is None:
            return Status(Code.ERROR, "the task names no ingress site", self.name)
        if ingress not in cycle.state.topology.sites:
            return Status(Code.ERROR, f"unknown ingress site {ingress!r}", self.name)
        return SUCCESS


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
        spec, need = cycle.spec, cycle.spec.accelerator
        if cycle.chosen_node is None or cycle.chosen_path is None:
            return Status(Code.ERROR, "reserve called before a node was chosen", self.name)
        reservation = Reservation(
            task_id=placement.task_id,
            node=cycle.chosen_node,
            cpu_cores=spec.cpu_cores,
            mem_gib=spec.mem_gib,
            accelerator_kind=None if need is None else need.kind,
            accelerator_count=0 if need is None else need.count,
            links=cycle.chosen_path.link_indexes,
            bandwidth_mbps=placement.reserved_bandwidth_mbps,
        )
        try:
            self._ledger.reserve(reservation)
        except OverCommitError as error:
            return Status(Code.UNSCHEDULABLE, str(error), self.name)
        return SUCCESS

    def unreserve(self, task_id: str) -> None:
        """Give back what the task holds."""
        self._ledger.release(task_id)


class RecordBind:
    """Accepts every placement; the caller hands it to an engine (the default in plans)."""

    name = "record"

    def bind(self, cycle: Cycle, placement: Placement) -> Status:
        """SUCCESS."""
        return SUCCESS
