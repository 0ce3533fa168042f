"""Metering: usage events counted exactly once, by idempotency key, into billing periods.

An engine (local, Ray, agents, the twin) reports each finished run's usage as one event per
dimension, keyed ``<run id>/<dimension>[/<detail>]``. The meter keeps the key of every event
it accepted: the same event again is a duplicate and changes nothing; an event under a known
key with other figures is a conflict and is refused (``UsageConflictError``), since billing
either would be wrong. Events are bucketed by the period their run ended in. Once a period is
closed (its invoice issued), an event that ends in it arrives late: it is billed in the first
open period as an adjustment line, never by editing a closed invoice.

Quantities are floats in the dimension's unit (core-seconds, GiB-seconds, ...); money enters
only at rating (``rating``), so the meter never rounds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum


class Dimension(StrEnum):
    """What a usage event measures, with its unit in the value."""

    CORE_SECONDS = "core-s"
    MEMORY_GIB_SECONDS = "gib-s"
    ACCELERATOR_SECONDS = "accelerator-s"
    """Device-seconds; the event's ``detail`` is the accelerator kind."""
    GFLOP = "gflop"
    """Work done; the event's ``detail`` is the precision."""
    NETWORK_GB = "network-gb"
    """Data moved over the network for the run (input and output)."""
    BANDWIDTH_MBPS_SECONDS = "mbps-s"
    """Reserved bandwidth times the time it was held."""
    TASKS = "tasks"
    """One per run: what a per-task price multiplies."""


class Ingest(StrEnum):
    """What the meter did with an event."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    LATE = "late"
    """Accepted, into the first open period, because its own period was closed."""


class UsageConflictError(ValueError):
    """An event under a key already metered, with different figures."""


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One run's usage in one dimension.

    Attributes:
        run_id: The run (a task's attempt) the usage belongs to; part of the key.
        tenant: Who is billed.
        provider: Who supplied the capacity (the node's owner); paid from the bill.
        dimension: What is measured.
        quantity: How much, in the dimension's unit; finite, not negative.
        ended_s: When the run ended (clock seconds); decides the period.
        detail: Accelerator kind or precision where the dimension has one, else "".
        sla_met: Whether the run met its SLA; a missed SLA earns the plan's credit.
    """

    run_id: str
    tenant: str
    provider: str
    dimension: Dimension
    quantity: float
    ended_s: float
    detail: str = ""
    sla_met: bool = True

    @property
    def key(self) -> str:
        """The idempotency key: one event per run, dimension and detail."""
        base = f"{self.run_id}/{self.dimension.value}"
        return f"{base}/{self.detail}" if self.detail else base


Figures = tuple[str, str, float, float, bool]
"""(tenant, provider, quantity, ended_s, sla_met): what a repeat of a key must match."""


def figures_of(event: UsageEvent) -> Figures:
    """The figures of ``event`` that its key does not already fix."""
    return (event.tenant, event.provider, event.quantity, event.ended_s, event.sla_met)


def agree(key: str, known: Figures, figures: Figures) -> None:
    """Raise ``UsageConflictError`` unless a repeat of ``key`` brings the figures it is known by."""
    if known != figures:
        raise UsageConflictError(f"usage {key!r}: metered as {known}, now reported as {figures}")


LineKey = tuple[str, str, Dimension, str, bool, bool]
"""(tenant, provider, dimension, detail, sla_met, late): what one usage line sums over."""


@dataclass(slots=True)
class UsageLine:
    """Metered usage of one tenant in one period, summed over one ``LineKey``."""

    tenant: str
    provider: str
    dimension: Dimension
    detail: str
    sla_met: bool
    late: bool
    quantity: float
    keys: list[str]


class Meter:
    """Usage events into periods of ``period_s`` seconds from ``origin_s``, exactly once."""

    def __init__(self, period_s: float, origin_s: float = 0.0) -> None:
        if not (math.isfinite(period_s) and period_s > 0):
            raise ValueError(f"period_s: {period_s!r} is not a positive number of seconds")
        self.period_s, self.origin_s = period_s, origin_s
        self._seen: dict[str, Figures] = {}
        self._lines: dict[int, dict[LineKey, UsageLine]] = {}
        self._closed_through = -1  # every period up to this index is closed

    def period_of(self, at_s: float) -> int:
        """Index of the period holding time ``at_s``."""
        return math.floor((at_s - self.origin_s) / self.period_s)

    def check(self, events: Iterable[UsageEvent]) -> None:
        """Raise as ``ingest`` would for the first malformed or conflicting event; meter none.

        Lets a batch be refused whole: events repeated inside ``events`` must agree too.
        """
        batch: dict[str, Figures] = {}
        for event in events:
            _check(event)
            figures = figures_of(event)
            known = self._seen.get(event.key) or batch.setdefault(event.key, figures)
            agree(event.key, known, figures)

    def ingest(self, event: UsageEvent) -> Ingest:
        """Meter ``event`` once; raises ``ValueError`` for a malformed one, naming the field."""
        _check(event)
        figures = figures_of(event)
        known = self._seen.get(event.key)
        if known is not None:
            agree(event.key, known, figures)
            return Ingest.DUPLICATE
        self._seen[event.key] = figures
        period = self.period_of(event.ended_s)
        late = period <= self._closed_through
        if late:
            period = self._closed_through + 1
        lines = self._lines.setdefault(period, {})
        line_key: LineKey = (
            event.tenant,
            event.provider,
            event.dimension,
            event.detail,
            event.sla_met,
            late,
        )
        line = lines.get(line_key)
        if line is None:
            line = lines[line_key] = UsageLine(*line_key, quantity=0.0, keys=[])
        line.quantity += event.quantity
        line.keys.append(event.key)
        return Ingest.LATE if late else Ingest.ACCEPTED

    def close(self, period: int) -> list[UsageLine]:
        """Close every period up to ``period``; returns the usage lines of ``period``.

        Closing is in order: a period already closed cannot be closed again (its invoice
        exists); its late usage goes to the next open one.
        """
        if period <= self._closed_through:
            raise ValueError(f"period {period} is already closed (through {self._closed_through})")
        self._closed_through = period
        return list(self._lines.get(period, {}).values())

    def lines(self, period: int) -> Iterator[UsageLine]:
        """The usage lines metered so far into ``period`` (open or closed)."""
        yield from self._lines.get(period, {}).values()

    def periods(self) -> list[int]:
        """Indices of the periods holding usage, in order."""
        return sorted(self._lines)

    @property
    def closed_through(self) -> int:
        """The last closed period (-1 before the first close)."""
        return self._closed_through

    @property
    def events(self) -> int:
        """Events metered (duplicates not counted)."""
        return len(self._seen)


def _check(event: UsageEvent) -> None:
    if not event.run_id or not event.tenant:
        raise ValueError(f"usage {event.key!r}: run_id and tenant must not be empty")
    if not isinstance(event.dimension, Dimension):
        raise ValueError(f"usage {event.key!r}: dimension {event.dimension!r} is not known")
    if not (math.isfinite(event.quantity) and event.quantity >= 0):
        raise ValueError(f"usage {event.key!r}: quantity {event.quantity!r} is not >= 0")
    if not math.isfinite(event.ended_s):
        raise ValueError(f"usage {event.key!r}: ended_s {event.ended_s!r} is not finite")
