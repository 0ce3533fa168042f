"""The state feed: once per tick, what was measured is given to a scheduling state.

``StateFeed.tick(state)`` sets on a ``ClusterState``:

* ``snapshot``: the aggregator's ``Snapshot`` (stale nodes' scores penalised, silent ones
  excluded, by the aggregator's ``StalenessPolicy``). A node whose agent never reported has no
  measured state at all, so by default it is made neutral rather than excluded: no measured
  load, its configured cores free, not stale (its ``age_s`` stays infinite, which is how plugins
  tell it apart). Nodes without agents then schedule on the ledger alone, as before any agent
  joined; a node that reported and went silent is still penalised, then excluded.
* the hour carbon is read at: ``hour_of_day`` is the UTC hour of the clock's time (epoch
  seconds), and each node gets its site's local mean solar hour, UTC + round(longitude / 15)
  hours, in ``node_hour`` (UTC for sites without a position). Carbon profiles are written per
  local hour; solar time is what drives a grid's intensity over the day.
* the latency routing uses: per link, the network metric agent's measured latency, dampened
  (CATS anti-churn): a new figure replaces the one routed on only when it differs by more than
  ``threshold_ratio`` of it and ``threshold_ms``, and has done so for ``hold_down_s``; a link
  not measured for ``max_age_s`` falls back (through the same damping) to its configured figure.
  The state's ``latency_version`` changes only when some routed latency does, so route caches
  survive ticks that change nothing. Loss and bandwidth stay readable in ``links``.

Measured load: the agents' reports carry ``load_ratio`` and ``cpu_free_cores`` (their workers'
measured CPU use against the node's cores); ``ClusterState.cpu_utilisation`` takes the larger
of reserved and measured load, and ``ClusterState.free_cpu_cores`` the smaller of reserved and
measured free cores.

Cost per tick: one snapshot (vectorised over nodes) and a few array operations over links; no
per-node or per-link Python loop. Live mode calls ``tick`` from the writer's tick; the twin can
call it from its own loop with the same aggregator (fed trusted reports through
``Aggregator.apply``) and its clock.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from suanwang.control.awareness import Aggregator
from suanwang.control.netmetrics import NetworkMetricAgent
from suanwang.control.ports import Clock
from suanwang.measure import LinkMetrics, Snapshot
from suanwang.model import Topology
from suanwang.scheduling.state import HOURS_PER_DAY, ClusterState

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SECONDS_PER_HOUR = 3600.0
DEGREES_PER_HOUR = 15.0
"""The Earth turns 15 degrees of longitude an hour: a site's mean solar time offset."""


@dataclass(frozen=True, slots=True)
class LatencyDamping:
    """When a measured link latency replaces the one routed on (CATS: no churn).

    Attributes:
        threshold_ratio: Least relative change (of the latency routed on) worth applying.
        threshold_ms: Least absolute change worth applying; both thresholds must be passed.
        hold_down_s: How long a change must persist before it is applied.
        max_age_s: A measurement older than this no longer counts (configured figure again).
    """

    threshold_ratio: float = 0.2
    threshold_ms: float = 1.0
    hold_down_s: float = 5.0
    max_age_s: float = 60.0

    def __post_init__(self) -> None:
        figures = (self.threshold_ratio, self.threshold_ms, self.hold_down_s, self.max_age_s)
        if min(figures) < 0:
            raise ValueError("damping thresholds and times must not be negative")


class LatencyDamper:
    """Dampened latency of every link (vectorised; see ``LatencyDamping``).

    Args:
        configured_ms: The topology's one-way latency per link (the starting figures).
        damping: Thresholds and hold-down.
    """

    def __init__(self, configured_ms: npt.ArrayLike, damping: LatencyDamping) -> None:
        self.damping = damping
        self._configured = np.array(configured_ms, dtype=np.float64)
        self._applied = self._configured.copy()
        self._moved_since_s = np.full(self._configured.shape, np.nan)

    @property
    def applied_ms(self) -> FloatArray:
        """The latencies to route on now (a read-only copy)."""
        applied = self._applied.copy()
        applied.flags.writeable = False
        return applied

    def update(self, measured_ms: FloatArray, measured_at_s: FloatArray, now_s: float) -> int:
        """Take the latest measurements at ``now_s``; returns how many links changed.

        Args:
            measured_ms: Latest one-way latency per link (configured where never measured).
            measured_at_s: When each was measured (NaN: never).
            now_s: The time now.
        """
        d = self.damping
        with np.errstate(invalid="ignore"):
            fresh = now_s - measured_at_s <= d.max_age_s  # NaN (never measured) is not fresh
        target = np.where(fresh, measured_ms, self._configured)
        delta = np.abs(target - self._applied)
        moved = (delta > d.threshold_ratio * self._applied) & (delta > d.threshold_ms)
        since = np.where(moved, np.fmin(self._moved_since_s, now_s), np.nan)
        due = moved & (now_s - since >= d.hold_down_s)
        self._moved_since_s = np.where(due, np.nan, since)
        count = int(np.count_nonzero(due))
        if count:
            self._applied[due] = target[due]
        return count


@dataclass(frozen=True, slots=True)
class FeedTick:
    """What one tick gave the state.

    Attributes:
        at_s: Clock time of the tick.
        hour_utc: The UTC hour set as ``hour_of_day``.
        reported: Nodes whose agent has reported at least once.
        stale: Reported nodes now stale (penalised; excluded ones included).
        excluded: Reported nodes now excluded (silent past the staleness limit).
        links_measured: Links with a measurement younger than ``max_age_s``.
        links_changed: Links whose routed latency changed at this tick.
    """

    at_s: float
    hour_utc: int
    reported: int
    stale: int
    excluded: int
    links_measured: int
    links_changed: int


def utc_offsets_h(topology: Topology) -> IntArray:
    """Per node (topology order), its site's mean solar offset from UTC in whole hours."""
    sites = topology.sites
    offsets = [
        0 if (geo := sites[node.site_id].geo) is None else round(geo.lon_deg / DEGREES_PER_HOUR)
        for node in topology.nodes.values()
    ]
    return np.asarray(offsets, dtype=np.int64)


class StateFeed:
    """Gives a ``ClusterState`` what was measured, once per ``tick`` (see the module docstring).

    Args:
        aggregator: Agents' verified reports; its nodes must be the state's, in order.
        clock: The time of ticks (hours, ages, hold-downs); the aggregator's clock.
        network: Measured link figures; None routes on the configured latencies.
        damping: When a measured latency is applied.
        lock: Held while the aggregator and the network agent are read (request threads write
            them); None when the caller serialises.
        local_hours: Give each node its site's local hour (else every node the UTC hour).
        exclude_unreported: Exclude nodes whose agent never reported (else they are neutral).
    """

    def __init__(
        self,
        aggregator: Aggregator,
        clock: Clock,
        *,
        network: NetworkMetricAgent | None = None,
        damping: LatencyDamping | None = None,
        lock: contextlib.AbstractContextManager[Any] | None = None,
        local_hours: bool = True,
        exclude_unreported: bool = False,
    ) -> None:
        self.aggregator, self.clock, self.network = aggregator, clock, network
        self.damping = damping or LatencyDamping()
        self._lock = lock
        self._local_hours, self._exclude_unreported = local_hours, exclude_unreported
        self._damper: tuple[int, LatencyDamper] | None = None
        self._offsets: tuple[int, IntArray] | None = None
        self.links: LinkMetrics | None = None
        """The network agent's figures read at the last tick (loss and bandwidth included)."""
        self.last: FeedTick | None = None
        """What the last tick did."""

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        if self._lock is None:
            yield
        else:
            with self._lock:
                yield

    def tick(self, state: ClusterState) -> FeedTick:
        """Give ``state`` the snapshot, the hour and the dampened link latency of now.

        Raises:
            ValueError: the aggregator's nodes or the network agent's links are not the
                state's topology's, in its order.
        """
        arrays = state.arrays
        if self.aggregator.node_ids != arrays.node_ids:
            raise ValueError("the aggregator's nodes differ from the state's topology's")
        with self._reading():
            now_s = self.clock.now_s()
            snapshot = self.aggregator.snapshot()
            links = None if self.network is None else self.network.metrics()
        reported = np.isfinite(snapshot.age_s)
        if not self._exclude_unreported:
            snapshot = _neutral_where_unreported(snapshot, reported, state)
        state.set_snapshot(snapshot)
        hour_utc = int(now_s // SECONDS_PER_HOUR) % HOURS_PER_DAY
        node_hour = None
        if self._local_hours:
            node_hour = (hour_utc + self._utc_offsets(state.topology)) % HOURS_PER_DAY
        state.set_hours(hour_utc, node_hour)
        measured, changed = 0, 0
        if links is not None:
            if links.link_ids != arrays.link_ids:
                raise ValueError("the network agent's links differ from the state's topology's")
            damper = self._damper_for(state)
            changed = damper.update(links.latency_ms, links.measured_at_s, now_s)
            if changed:
                state.set_link_latency(damper.applied_ms)
            with np.errstate(invalid="ignore"):
                fresh = now_s - links.measured_at_s <= self.damping.max_age_s
            measured = int(np.count_nonzero(fresh))
        self.links = links
        self.last = FeedTick(
            at_s=now_s,
            hour_utc=hour_utc,
            reported=int(np.count_nonzero(reported)),
            stale=int(np.count_nonzero(snapshot.stale & reported)),
            excluded=int(np.count_nonzero(snapshot.excluded & reported)),
            links_measured=measured,
            links_changed=changed,
        )
        return self.last

    def _utc_offsets(self, topology: Topology) -> IntArray:
        kept = self._offsets
        if kept is None or kept[0] != topology.version:
            kept = self._offsets = (topology.version, utc_offsets_h(topology))
        return kept[1]

    def _damper_for(self, state: ClusterState) -> LatencyDamper:
        kept = self._damper
        if kept is None or kept[0] != state.topology.version:
            kept = self._damper = (
                state.topology.version,
                LatencyDamper(state.arrays.link_latency_ms, self.damping),
            )
        return kept[1]


def _neutral_where_unreported(
    snapshot: Snapshot, reported: npt.NDArray[np.bool_], state: ClusterState
) -> Snapshot:
    """``snapshot`` with never-reporting nodes neither loaded, short of cores, nor excluded."""
    if reported.all():
        return snapshot
    arrays = state.arrays
    return dataclasses.replace(
        snapshot,
        cpu_free_cores=np.where(reported, snapshot.cpu_free_cores, arrays.node_cpu_cores),
        mem_free_gib=np.where(reported, snapshot.mem_free_gib, arrays.node_mem_gib),
        load_ratio=np.where(reported, snapshot.load_ratio, 0.0),
        staleness_factor=np.where(reported, snapshot.staleness_factor, 1.0),
        stale=snapshot.stale & reported,
        excluded=snapshot.excluded & reported,
    )
