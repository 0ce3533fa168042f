"""Local improvement of a batch placement: ejection moves that meet strictly more SLAs.

The min-cost flow (and the online repair after it) leaves some tasks of a batch unserved:
unplaced, or placed outside their SLA. ``improve_placements`` then tries, within a bound on
moves and on time:

1. **Insertion**: each unserved task through the online scheduler again (binding earlier in
   the pass may have moved room where it fits); one placed outside its SLA keeps its
   placement unless the new one meets it.
2. **Ejection**: a placed task (the *victim*) on a node that some unserved tasks could use on
   an idle network (the filters' ``never`` masks leave it to them), or holding bandwidth out
   of the ingress of unplaced tasks that reserve some, is released; those unserved tasks
   are scheduled into what it freed (one or several: one big flexible task often holds the
   room of several small tight ones); then the victim is scheduled again, elsewhere. The
   move is kept only when it meets strictly more SLAs than before (the tasks now served, less
   the victim where it was served and is not any more); otherwise every step is undone and the
   victim gets back its exact reservation.

Victims are tried in order of how many unserved tasks could follow them so (most first), then
of how many nodes they could use themselves on an idle network (the most flexible first), then
of the cores they hold (biggest first). Every placement the pass makes comes from the
scheduler's own cycle, so its estimate and SLA check are those of the online path; reservations
dedicate what each task holds, so a move changes no other task's estimate.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suanwang.model import Placement, TaskSpec
from suanwang.scheduling.batch.evaluate import SlaCheck
from suanwang.scheduling.cycle import Cycle, required_bandwidth_mbps
from suanwang.scheduling.framework import BoolArray, NeverMask, Request, Stage
from suanwang.scheduling.reservations import Reservation
from suanwang.scheduling.scheduler import Scheduler

EJECTED = "its room went to tasks that meet more SLAs together, and no other node was left"
"""Why a task the pass ejected is unplaced."""


@dataclass(frozen=True, slots=True)
class ImproveOptions:
    """Bounds of ``improve_placements``.

    Attributes:
        max_victims: Victims tried in all (each one ejection move).
        beneficiaries: Unserved tasks tried per victim at most.
        time_budget_s: Seconds the pass may take; it stops between moves once spent.
        max_tasks: Largest batch the pass runs on; a larger one is left as it is (checking
            every placement's SLA costs about 10 us a task, and the moves matter where a
            few tasks are a point of the batch).
    """

    max_victims: int = 256
    beneficiaries: int = 32
    time_budget_s: float = 1.0
    max_tasks: int = 4096

    def __post_init__(self) -> None:
        if self.max_victims < 0:
            raise ValueError(f"max_victims must be at least 0, got {self.max_victims}")
        if self.beneficiaries < 1:
            raise ValueError(f"beneficiaries must be at least 1, got {self.beneficiaries}")
        if self.max_tasks < 0:
            raise ValueError(f"max_tasks must be at least 0, got {self.max_tasks}")
        if not self.time_budget_s >= 0:
            raise ValueError(f"time_budget_s must be at least 0, got {self.time_budget_s}")


@dataclass(slots=True)
class ImproveStats:
    """What one pass did.

    Attributes:
        inserted: Unserved tasks served by insertion alone.
        moves_tried: Ejection moves attempted.
        moves_kept: Ejection moves kept.
        gained: SLAs met more than before the pass, in all.
        seconds: Time the pass took.
    """

    inserted: int = 0
    moves_tried: int = 0
    moves_kept: int = 0
    gained: int = 0
    seconds: float = 0.0


class _Pass:
    """The state of one pass: who is served, where, and each spec's idle-network nodes."""

    def __init__(
        self,
        scheduler: Scheduler,
        requests: Sequence[Request],
        placements: list[Placement | None],
    ) -> None:
        self.scheduler, self.requests, self.placements = scheduler, requests, placements
        self.check = SlaCheck(scheduler.state.topology)
        self.node_index = {n: i for i, n in enumerate(scheduler.state.arrays.node_ids)}
        self.served = [self.check(r.spec, p) for r, p in zip(requests, placements, strict=True)]
        plugins = scheduler.plugins
        self._never = [
            f for stage in Stage for f in plugins.filters[stage] if isinstance(f, NeverMask)
        ]
        self._open: dict[int, tuple[TaskSpec, BoolArray]] = {}  # by spec object

    def open_nodes(self, member: int) -> BoolArray:
        """Nodes the member's task could use on an idle network (no filter's ``never``)."""
        request = self.requests[member]
        known = self._open.get(id(request.spec))
        if known is None:
            state = self.scheduler.state
            cycle = Cycle(request, state, alive=state.everyone())
            mask = state.everyone().copy()
            for plugin in self._never:
                mask &= ~np.asarray(plugin.never(cycle), dtype=bool)
            known = self._open[id(request.spec)] = (request.spec, mask)
        return known[1]

    def place(self, member: int) -> bool:
        """Schedule the member; keep it only where it meets its SLA. True when served."""
        decision = self.scheduler.schedule(self.requests[member])
        placement = decision.placement
        if placement is None:
            return False
        if not self.check(self.requests[member].spec, placement):
            self.scheduler.release(placement.task_id)
            return False
        self.placements[member] = placement
        self.served[member] = True
        return True

    def unplace(self, member: int) -> tuple[Placement | None, Reservation | None, bool]:
        """Release the member and mark it unplaced; what it had, for ``restore``."""
        placement, served = self.placements[member], self.served[member]
        held = None
        if placement is not None:
            held = self.scheduler.state.reservations.release(placement.task_id)
        self.placements[member] = None
        self.served[member] = False
        return placement, held, served

    def restore(self, member: int, had: tuple[Placement | None, Reservation | None, bool]) -> None:
        """Give the member back what ``unplace`` took: its placement and exact reservation."""
        placement, held, served = had
        if held is not None:
            self.scheduler.state.reservations.reserve(held)
        self.placements[member], self.served[member] = placement, served

    def could_follow(self, member: int, victim: int) -> bool:
        """Whether ejecting ``victim`` could make room for ``member``.

        True where the victim's node is open to the member, or where the victim holds
        bandwidth out of the member's ingress and the member needs some.
        """
        if self.open_nodes(member)[self.node_of(victim)]:
            return True
        held, spec = self.placements[victim], self.requests[member].spec
        return (
            held is not None
            and held.reserved_bandwidth_mbps > 0
            and spec.ingress_site == self.requests[victim].spec.ingress_site
            and required_bandwidth_mbps(spec) > 0
        )

    def node_of(self, member: int) -> int:
        """Index of the member's node, or -1 when unplaced."""
        placement = self.placements[member]
        return -1 if placement is None else self.node_index[placement.node_id]


def improve_placements(
    scheduler: Scheduler,
    requests: Sequence[Request],
    placements: list[Placement | None],
    options: ImproveOptions | None = None,
    reasons: dict[str, str] | None = None,
) -> ImproveStats:
    """Meet more SLAs in ``placements`` by insertion and ejection moves (module docstring).

    Args:
        scheduler: Places on the state whose ledger holds the batch's reservations (each
            placed request holds one under its task id).
        requests: The batch.
        placements: One entry per request, changed in place; the ledger changes with it.
        options: Bounds on moves and time.
        reasons: Why unplaced tasks are unplaced, by task id, kept up to date when given: a
            task the pass placed loses its entry, one it ejected gets ``EJECTED``.

    Returns:
        What the pass did; the SLA count of ``placements`` never drops. A batch of more than
        ``options.max_tasks`` is left as it is.

    Raises:
        ValueError: ``placements`` and ``requests`` differ in length.
    """
    if len(requests) != len(placements):
        raise ValueError(f"{len(requests)} requests but {len(placements)} placements")
    options = options or ImproveOptions()
    started = time.perf_counter()
    deadline = started + options.time_budget_s
    stats = ImproveStats()
    if len(requests) > options.max_tasks:
        return stats
    run = _Pass(scheduler, requests, placements)
    before = sum(run.served)
    for member in range(len(requests)):
        if run.served[member] or time.perf_counter() > deadline:
            continue
        had = run.unplace(member)  # placed outside its SLA: its room is tried afresh
        if run.place(member):
            stats.inserted += 1
        else:
            run.restore(member, had)
    if options.max_victims:
        _eject(run, options, deadline, stats)
    stats.gained = sum(run.served) - before
    if reasons is not None:
        for request, placement in zip(requests, placements, strict=True):
            if placement is not None:
                reasons.pop(request.task_id, None)
            elif request.task_id not in reasons:
                reasons[request.task_id] = EJECTED
    stats.seconds = time.perf_counter() - started
    return stats


def _eject(run: _Pass, options: ImproveOptions, deadline: float, stats: ImproveStats) -> None:
    """Ejection moves, victims in the module docstring's order, within the bounds."""
    # Tasks placed outside their SLA are victims that cost nothing, never beneficiaries:
    # scheduling one again while it holds its reservation would hold it twice.
    unserved = [m for m in range(len(run.requests)) if run.placements[m] is None]
    if not unserved:
        return
    victims = [m for m in range(len(run.requests)) if run.placements[m] is not None]
    hopes = {v: [m for m in unserved if run.could_follow(m, v)] for v in victims}
    victims = [v for v in victims if hopes[v]]
    victims.sort(
        key=lambda m: (
            -len(hopes[m]),
            -int(np.count_nonzero(run.open_nodes(m))),
            -run.requests[m].spec.cpu_cores,
        )
    )
    for victim in victims[: options.max_victims]:
        if time.perf_counter() > deadline:
            break
        if run.placements[victim] is None:  # ejected earlier in this pass, not placed again
            continue
        hopeful = [m for m in hopes[victim] if run.placements[m] is None]
        if not hopeful:
            continue
        stats.moves_tried += 1
        had = run.unplace(victim)
        gained = [m for m in hopeful[: options.beneficiaries] if run.place(m)]
        back = bool(gained) and run.place(victim)
        if len(gained) - (had[2] and not back) > 0:
            stats.moves_kept += 1
            continue
        for member in (victim, *gained):  # undo, the victim last: its exact room is free
            run.unplace(member)
        run.restore(victim, had)
