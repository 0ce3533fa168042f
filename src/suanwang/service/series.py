"""Time series of the control plane: bounded rings of samples taken on the writer's tick.

``PlaneSeries.observe`` runs on the writer's tick (about once a second) and takes a sample once
every ``period_s``: per interval the tasks that arrived (``submitted``), were placed, refused
(``rejected:*`` and ``expired:*``), completed, failed, and completed within or past their SLA,
read from the Prometheus counters the plane already keeps; at the sample's time the tasks
queued and active; and the share of CPU cores reserved per tier and per site. Samples carry a
running index, so that a reader asks only for those after the last one it has (``read``).

Memory is bounded: ``capacity`` rows of the scalar columns and ``capacity`` x sites float32 for
the sites (a new topology starts the site ring afresh). A lock guards the rings: the writer
appends while request handlers read.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanwang.model import Tier, Topology
from suanwang.service.metrics import PlaneMetrics

COUNT_COLUMNS = ("arrivals", "placed", "refused", "completed", "failed", "sla_met", "sla_missed")
"""Per-interval counts of a sample (differences of the plane's counters)."""
GAUGE_COLUMNS = ("queued", "active")
"""Values at the sample's time."""
TIERS = tuple(str(tier) for tier in Tier)
"""Tiers with a utilisation column each (``util_<tier>``; NaN where a tier has no cores)."""
COLUMNS = (*COUNT_COLUMNS, *GAUGE_COLUMNS, *(f"util_{tier}" for tier in TIERS))
"""Every scalar column, in row order."""

DEFAULT_PERIOD_S = 5.0
DEFAULT_CAPACITY = 720  # one hour at 5 s


class Ring:
    """The last ``capacity`` rows of ``width`` floats, each with a time and a running index.

    Args:
        capacity: Rows kept; older ones are overwritten.
        width: Values per row.
        start: Index of the first row appended.
        dtype: Storage type of the values.
    """

    def __init__(self, capacity: int, width: int, start: int = 0, dtype: type = np.float64) -> None:
        if capacity < 1 or width < 0:
            raise ValueError("a ring needs a capacity of at least one row")
        self.capacity = capacity
        self._values: npt.NDArray[np.floating] = np.full((capacity, width), np.nan, dtype)
        self._at_s = np.zeros(capacity, np.float64)
        self._start = start
        self._next = start

    @property
    def first(self) -> int:
        """Index of the oldest row kept (``next`` when empty)."""
        return max(self._start, self._next - self.capacity)

    @property
    def next(self) -> int:
        """Index the next row appended will have."""
        return self._next

    def append(self, at_s: float, row: npt.ArrayLike) -> int:
        """Add a row taken at ``at_s``; returns its index."""
        slot = self._next % self.capacity
        self._values[slot] = row
        self._at_s[slot] = at_s
        self._next += 1
        return self._next - 1

    def since(
        self, index: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Rows from ``index`` on (from the oldest kept when it is gone): indices, times, values.

        An ``index`` past ``next`` (a reader of an earlier server) gets every row kept.
        """
        first = self.first if index > self._next else max(index, self.first)
        indices = np.arange(first, self._next, dtype=np.int64)
        slots = indices % self.capacity
        return indices, self._at_s[slots].copy(), self._values[slots].astype(np.float64)


@dataclass(frozen=True, slots=True)
class SeriesWindow:
    """Samples read from ``PlaneSeries``: parallel lists, None where a value is undefined.

    Attributes:
        period_s: Time between samples.
        capacity: Samples kept at most.
        from_index: Index of the first sample here (``next`` when there is none).
        next: Index to ask from next time.
        at_s: Time of each sample (the plane's clock, seconds since the epoch).
        columns: Each of ``COLUMNS``' values per sample.
        sites: Share of CPU cores reserved per sample, for the sites asked for.
    """

    period_s: float
    capacity: int
    from_index: int
    next: int
    at_s: list[float]
    columns: dict[str, list[float | None]]
    sites: dict[str, list[float | None]]


def _plain(values: npt.NDArray[np.float64]) -> list[float | None]:
    """JSON-ready values: rounded to 4 decimals, None for NaN."""
    return [None if math.isnan(v) else round(v, 4) for v in values.tolist()]


class PlaneSeries:
    """The plane's time series (see the module docstring).

    Args:
        metrics: The counters sampled.
        period_s: Time between samples (checked on each tick, so at least the tick's interval).
        capacity: Samples kept.
        monotonic: Clock that spaces samples (default ``time.monotonic``).
    """

    def __init__(
        self,
        metrics: PlaneMetrics,
        period_s: float = DEFAULT_PERIOD_S,
        capacity: int = DEFAULT_CAPACITY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if period_s <= 0:
            raise ValueError("the sampling period must be positive")
        self.period_s = period_s
        self._metrics, self._monotonic = metrics, monotonic
        self._rows = Ring(capacity, len(COLUMNS))
        self._sites = Ring(capacity, 0, dtype=np.float32)
        self._site_ids: tuple[str, ...] = ()
        self._version = -1
        self._node_site: npt.NDArray[np.intp] = np.zeros(0, np.intp)
        self._site_tier: npt.NDArray[np.intp] = np.zeros(0, np.intp)
        self._site_cores: npt.NDArray[np.float64] = np.zeros(0)
        self._last_counts = np.zeros(len(COUNT_COLUMNS))
        self._last_sample_s: float | None = None
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        """Samples kept at most."""
        return self._rows.capacity

    def counts(self) -> npt.NDArray[np.float64]:
        """The plane's counters now, in ``COUNT_COLUMNS`` order (totals since the start)."""
        out = dict.fromkeys(COUNT_COLUMNS, 0.0)
        for family in self._metrics.decisions.collect():
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    continue
                cause = sample.labels.get("cause", "")
                if cause == "submitted":
                    out["arrivals"] += sample.value
                elif cause in ("placed", "completed", "failed"):
                    out[cause] += sample.value
                elif cause.startswith(("rejected:", "expired:")):
                    out["refused"] += sample.value
        for family in self._metrics.tasks_finished.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    key = "sla_met" if sample.labels.get("sla") == "met" else "sla_missed"
                    out[key] += sample.value
        return np.array([out[name] for name in COUNT_COLUMNS])

    def observe(
        self,
        now_s: float,
        topology: Topology,
        cpu_cores: npt.NDArray[np.float64],
        queued: int,
        active: int,
    ) -> bool:
        """Take a sample if ``period_s`` has passed since the last (writer thread, each tick).

        Args:
            now_s: The plane's clock (the sample's time).
            topology: The live topology.
            cpu_cores: Reserved cores per node (the ledger's array).
            queued: Tasks waiting for capacity.
            active: Tasks not yet final.

        Returns:
            Whether a sample was taken.
        """
        tick_s = self._monotonic()
        if self._last_sample_s is not None and tick_s - self._last_sample_s < self.period_s:
            return False
        self._last_sample_s = tick_s
        counts = self.counts()
        delta = counts - self._last_counts
        self._last_counts = counts
        with self._lock:
            if topology.version != self._version:
                self._index(topology)
            held = np.bincount(self._node_site, weights=cpu_cores, minlength=len(self._site_ids))
            shares = np.divide(
                held,
                self._site_cores,
                out=np.full(len(self._site_ids), np.nan),
                where=self._site_cores > 0,
            )
            tiers = np.full(len(TIERS), np.nan)
            for t in range(len(TIERS)):
                in_tier = self._site_tier == t
                cores = float(self._site_cores[in_tier].sum())
                if cores > 0:
                    tiers[t] = min(1.0, float(held[in_tier].sum()) / cores)
            row = np.concatenate([delta, [queued, active], tiers])
            self._rows.append(now_s, row)
            self._sites.append(now_s, np.clip(shares, 0.0, 1.0))
        return True

    def _index(self, topology: Topology) -> None:
        """Sites of a new topology: nodes' sites, sites' tiers and cores; a fresh site ring."""
        arrays = topology.arrays
        self._site_ids = tuple(topology.sites)
        position = {site: i for i, site in enumerate(self._site_ids)}
        self._node_site = np.fromiter(
            (position[arrays.vertex_ids[v]] for v in arrays.node_vertex.tolist()),
            np.intp,
            len(arrays.node_ids),
        )
        tier_of = {tier: i for i, tier in enumerate(TIERS)}
        self._site_tier = np.array(
            [tier_of[str(topology.sites[s].tier)] for s in self._site_ids], np.intp
        )
        self._site_cores = np.bincount(
            self._node_site, weights=arrays.node_cpu_cores, minlength=len(self._site_ids)
        ).astype(np.float64)
        self._sites = Ring(
            self.capacity, len(self._site_ids), start=self._rows.next, dtype=np.float32
        )
        self._version = topology.version

    def read(self, since: int = 0, sites: tuple[str, ...] = (), top: int = 0) -> SeriesWindow:
        """Samples from index ``since`` on, with the sites named and the ``top`` busiest.

        Args:
            since: Index of the first sample wanted (``next`` of an earlier read).
            sites: Site ids whose series to include (unknown ids are left out).
            top: Further sites to include: those with the highest mean share in the window.
        """
        with self._lock:
            indices, at_s, values = self._rows.since(since)
            site_indices, _, site_values = self._sites.since(since)
            site_ids, next_index = self._site_ids, self._rows.next
        chosen = [site for site in dict.fromkeys(sites) if site in site_ids]
        position = {site: i for i, site in enumerate(site_ids)}
        if top > 0 and site_values.size:
            # Sites without cores (NaN) rank last.
            means = np.nan_to_num(site_values, nan=-1.0).mean(axis=0)
            named = set(chosen)
            busiest = [site_ids[i] for i in np.argsort(-means, kind="stable").tolist()]
            chosen += [site for site in busiest if site not in named][:top]
        # The site ring may start later than the window (a new topology): pad its front.
        pad: list[float | None] = [None] * (len(indices) - len(site_indices))
        site_series = {site: pad + _plain(site_values[:, position[site]]) for site in chosen}
        return SeriesWindow(
            period_s=self.period_s,
            capacity=self.capacity,
            from_index=int(indices[0]) if len(indices) else next_index,
            next=next_index,
            at_s=[round(v, 3) for v in at_s.tolist()],
            columns={name: _plain(values[:, j]) for j, name in enumerate(COLUMNS)},
            sites=site_series,
        )
