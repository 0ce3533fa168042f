"""The market's use-cases in the live control plane: selling, buying, metering and billing.

Providers list offers of the nodes their tenant owns; consumers buy leases at posted prices
(``MarketStore.buy``); every lease change copies the active leases into the scheduler's
``ClusterState.leases``, so the next placement already honours them. Every run is metered
after the commit that ends it (``note_runs``: ``market.metering.runs_of``): the run a task's
final state ends, and each run cut short before it (its node lost, a move, a restart of the
server that re-queued it), the provider being the owner of the node the run held; events that
could not be stored stay pending and go with the next commit (their keys make the retry
harmless). Closing a period settles every active lease for it (a lease whose funds run out
ends with the reason ``funds exhausted`` instead of running for free) and closes the period's
usage; a tenant's bill is its usage invoice under the price plan plus its leases' settlements.

Pending events live in memory until their flush, so a crash between a run's commit and the
flush would lose them: at start the plane calls ``recover``, which meters again every run that
ended in the last period's time, of final and active tasks alike (the keys make the runs
already metered duplicates).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from suanwang.control.ports import Clock
from suanwang.control.stores import StoreUnavailableError, TaskStore
from suanwang.market import (
    Ingest,
    InsufficientFundsError,
    Invoice,
    Offer,
    PricePlan,
    Settlement,
    UsageConflictError,
    UsageEvent,
    Want,
    rate,
)
from suanwang.market.metering import runs_of, usage_of
from suanwang.market.money import ZERO
from suanwang.market.store import LeaseRecord, ListedOffer, MarketNotFoundError, MarketStore
from suanwang.model import Task, TaskState

log = logging.getLogger(__name__)

FUNDS_EXHAUSTED = "funds exhausted"
"""The reason a lease ends with when its tenant cannot pay a period."""

RECOVER_PAGE = 1000
"""Tasks read per page when ``recover`` looks for runs to meter again."""

RECOVER_MAX_PAGES = 1000
"""Most pages ``recover`` reads per final state (a million tasks): the scan always ends."""

RECOVER_BATCH = 5000
"""Events ``recover`` stores per transaction."""


class NotYoursError(PermissionError):
    """A provider offered a node its tenant does not own, or a tenant touched another's lease."""


@dataclass(frozen=True, slots=True)
class Bill:
    """A tenant's bill for one period: usage rated under the plan, and its leases' charges."""

    tenant: str
    period: int
    invoice: Invoice
    leases: tuple[Settlement, ...]

    @property
    def total(self) -> Decimal:
        """Usage charges less SLA credits, plus the leases' charges."""
        return self.invoice.total + sum((s.charge for s in self.leases), ZERO)


class Market:
    """The live market (see the module docstring).

    Args:
        store: Book, leases, accounts and usage.
        plan: The price plan usage is rated with (operators replace it with ``set_plan``).
        clock: Time of offers, leases and usage.
        owners: Node id -> owner of the live topology, read when needed.
        apply_leases: Called with node id -> tenant of every active lease after each change.
    """

    def __init__(
        self,
        store: MarketStore,
        plan: PricePlan,
        clock: Clock,
        owners: Callable[[], Mapping[str, str]],
        apply_leases: Callable[[dict[str, str]], None],
    ) -> None:
        self.store, self.plan, self._clock = store, plan, clock
        self._owners, self._apply = owners, apply_leases
        self._lock = threading.Lock()
        self._pending: list[UsageEvent] = []

    def offer(self, tenant: str | None, offer: Offer, node_ids: Sequence[str]) -> ListedOffer:
        """List ``offer`` of ``node_ids``; a provider (``tenant`` set) sells only its own nodes.

        Raises:
            ValueError: a node is not in the live topology.
            NotYoursError: a node belongs to another owner than ``tenant``.
        """
        owners = self._owners()
        unknown = sorted(n for n in node_ids if n not in owners)
        if unknown:
            raise ValueError(f"node_ids: {unknown} are not nodes of the live topology")
        if tenant is not None:
            foreign = sorted(n for n in node_ids if owners[n] != tenant)
            if foreign:
                raise NotYoursError(f"node_ids: {foreign} are not owned by tenant {tenant!r}")
        return self.store.list_offer(offer, node_ids, self._clock.now_s())

    def order(self, lease_id: str, want: Want) -> tuple[LeaseRecord, ...]:
        """Buy ``want`` at posted prices; its nodes are the tenant's from the next placement."""
        leases = self.store.buy(lease_id, want, self._clock.now_s())
        self.refresh()
        return leases

    def end_lease(self, tenant: str | None, lease_id: str, reason: str) -> LeaseRecord:
        """End a lease (of ``tenant`` unless None: operators end any) with a stated reason."""
        if tenant is not None and not any(
            lease.lease_id == lease_id for lease in self.store.leases(tenant)
        ):
            raise MarketNotFoundError(f"lease_id: {lease_id!r} is not a lease of {tenant!r}")
        ended = self.store.end_lease(lease_id, reason, self._clock.now_s())
        self.refresh()
        return ended

    def refresh(self) -> None:
        """Copy the active leases into the scheduler's state."""
        holders = {
            node: lease.tenant
            for lease in self.store.leases(active_only=True)
            for node in lease.node_ids
        }
        self._apply(holders)

    def set_plan(self, plan: PricePlan) -> None:
        """Rate usage with ``plan`` from now on (invoices are computed when asked for)."""
        self.plan = plan

    def _usage_of(
        self, task: Task, since_step: int = 0, since_s: float | None = None
    ) -> list[UsageEvent]:
        """Usage of ``task``'s runs ended at step ``since_step`` or later (and ``since_s``).

        A run whose node is not known (a history stored before nodes were recorded) is skipped.
        """
        runs = [
            run
            for run in runs_of(task)
            if run.step >= since_step and (since_s is None or run.ended_s >= since_s)
        ]
        if not runs:
            return []
        owners = self._owners()
        return [
            event
            for run in runs
            if run.node_id is not None
            for event in usage_of(task, run, owners.get(run.node_id, "operator"))
        ]

    def note_runs(self, task: Task, stored_steps: int) -> None:
        """``task`` is committed over a record of ``stored_steps`` steps: meter what they ended.

        The usage of the runs its new steps ended is queued, and stored by ``flush``.
        """
        events = self._usage_of(task, since_step=stored_steps)
        if events:
            with self._lock:
                self._pending.extend(events)

    def recover(self, tasks: TaskStore) -> int:
        """Meter again the runs that ended in the last period's time; returns the events new.

        What a crash between a run's commit and ``flush`` lost is stored now (as late usage of
        the first open period when its own period was closed meanwhile); a run already metered
        brings duplicates that change nothing, and an event whose key is stored with other
        figures (its node changed owner since) is skipped with a warning. It looks at runs
        that ended at most one period ago (what a crash loses ended just before it): those of
        every active task, and of final tasks read newest submitted first, down to those
        submitted a period before that: a run of a final task longer than a period is not
        looked for.
        """
        period_s = self.store.period_s
        since_s = self._clock.now_s() - period_s
        floor_s = since_s - period_s
        events: list[UsageEvent] = []
        for active in tasks.non_terminal():
            events.extend(self._usage_of(active, since_s=since_s))
        for state in (TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED):
            cursor: str | None = None
            for _ in range(RECOVER_MAX_PAGES):
                page = tasks.list(state=state, limit=RECOVER_PAGE, cursor=cursor, newest_first=True)
                for task in page.tasks:
                    if task.history and task.history[-1].at_s >= since_s:
                        events.extend(self._usage_of(task, since_s=since_s))
                if page.next_cursor is None or not page.tasks:
                    break
                if page.tasks[-1].submitted_at_s < floor_s:
                    break
                cursor = page.next_cursor
        stored = 0
        for start in range(0, len(events), RECOVER_BATCH):
            stored += self._ingest_new(events[start : start + RECOVER_BATCH])
        if stored:
            log.warning("usage of %d events was missing and is metered now", stored)
        return stored

    def _ingest_new(self, events: list[UsageEvent]) -> int:
        """Store ``events``; one by one when the batch holds a conflict (skipping those)."""
        new = (Ingest.ACCEPTED, Ingest.LATE)
        try:
            return sum(1 for outcome in self.store.ingest(events) if outcome in new)
        except UsageConflictError:
            pass  # some event clashes with a stored one: keep the others
        stored = 0
        for event in events:
            try:
                stored += sum(1 for outcome in self.store.ingest([event]) if outcome in new)
            except UsageConflictError as exc:
                log.warning("usage not metered again: %s", exc)
        return stored

    def flush(self) -> int:
        """Store the pending usage events; returns how many were stored (0 if none or failed)."""
        with self._lock:
            events, self._pending = self._pending, []
        if not events:
            return 0
        try:
            self.store.ingest(events)
        except StoreUnavailableError as exc:
            log.warning("usage of %d events kept for the next commit: %s", len(events), exc)
            with self._lock:
                self._pending[:0] = events
            return 0
        return len(events)

    def close(self, period: int) -> list[Bill]:
        """Settle every active lease for ``period``, close it; returns its bills.

        Raises:
            ValueError: ``period`` is already closed (nothing is settled or ended then).
        """
        closed = self.store.closed_through()
        if period <= closed:
            raise ValueError(f"period {period} is already closed (through {closed})")
        for lease in self.store.leases(active_only=True):
            try:
                self.store.settle(lease.lease_id, period)
            except InsufficientFundsError:
                self.store.end_lease(lease.lease_id, FUNDS_EXHAUSTED, self._clock.now_s())
        self.refresh()
        self.store.close_period(period)
        return self.bills(period)

    def bills(self, period: int, tenant: str | None = None) -> list[Bill]:
        """The bills of ``period`` (of ``tenant``, or of every tenant with usage or leases)."""
        lines = self.store.usage_lines(period)
        tenant_of = {lease.lease_id: lease.tenant for lease in self.store.leases(tenant)}
        settled = [s for s in self.store.settlements(period) if s.lease_id in tenant_of]
        tenants = {line.tenant for line in lines} | {tenant_of[s.lease_id] for s in settled}
        if tenant is not None:
            tenants &= {tenant}
        return [
            Bill(
                name,
                period,
                rate(name, period, lines, self.plan),
                tuple(s for s in settled if tenant_of[s.lease_id] == name),
            )
            for name in sorted(tenants)
        ]
