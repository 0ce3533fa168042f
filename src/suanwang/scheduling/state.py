"""What a scheduling cycle sees: the topology, what is reserved, what is measured, and when.

``ClusterState`` joins the static topology (capacities, sites, energy), the reservation ledger
(what placements hold) and, where agents report, the awareness ``Snapshot`` (measured load,
staleness, exclusions). ``NodeSiteArrays`` carries per-node copies of site facts (tier, region,
PUE, carbon, price) so that plugins read them as arrays; it is built once per topology version.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from suanwang.measure import DEFAULT_EFFICIENCY, EfficiencyTable, Snapshot
from suanwang.measure.compute import DEVICES, WorkloadClass, effective_rate_gflops
from suanwang.model import (
    ACCELERATOR_KINDS,
    AcceleratorKind,
    Precision,
    Topology,
    TopologyArrays,
    region_within,
)
from suanwang.model.topology import FloatArray, IntArray
from suanwang.routing.graph import RoutingGraph, reweighted_graph, routing_graph
from suanwang.scheduling.catalogue import ServiceCatalogue
from suanwang.scheduling.leases import NodeLeases
from suanwang.scheduling.reservations import Reservations

HOURS_PER_DAY = 24
MEASURED_SLACK_CORES = 0.1
"""Measured free cores count this much more: the noise of timing CPU use over one interval."""


@dataclass(frozen=True, slots=True, eq=False)
class NodeSiteArrays:
    """Site facts per node, in ``TopologyArrays.node_ids`` order.

    Attributes:
        tier_rank: ``Tier.rank`` of the node's site.
        region_codes: Distinct region codes, in order of first appearance.
        region_id: Index into ``region_codes`` of each node's site region.
        pue: PUE of the node's site.
        carbon_g_per_kwh_by_hour: Shape ``(24, nodes)``: carbon intensity per local hour.
        accel_mem_gib: Shape ``(nodes, kinds)``: memory of the largest device of each kind.
    """

    tier_rank: IntArray
    region_codes: tuple[str, ...]
    region_id: IntArray
    pue: FloatArray
    carbon_g_per_kwh_by_hour: FloatArray
    accel_mem_gib: FloatArray


_CACHE_VERSIONS = 8
_cache: OrderedDict[int, NodeSiteArrays] = OrderedDict()


def _build_site_arrays(topology: Topology) -> NodeSiteArrays:
    nodes = list(topology.nodes.values())
    sites = topology.sites
    carbon = np.empty((HOURS_PER_DAY, len(nodes)))
    for column, node in enumerate(nodes):
        energy = sites[node.site_id].energy
        carbon[:, column] = [energy.carbon_at_hour(hour) for hour in range(HOURS_PER_DAY)]
    accel_mem = np.zeros((len(nodes), len(ACCELERATOR_KINDS)))
    for row, node in enumerate(nodes):
        for accelerator in node.accelerators:
            k = ACCELERATOR_KINDS.index(accelerator.kind)
            accel_mem[row, k] = max(accel_mem[row, k], accelerator.mem_gib)
    codes: dict[str, int] = {}
    for node in nodes:
        codes.setdefault(sites[node.site_id].region, len(codes))
    arrays = NodeSiteArrays(
        tier_rank=np.array([sites[n.site_id].tier.rank for n in nodes], dtype=np.int32),
        region_codes=tuple(codes),
        region_id=np.array([codes[sites[n.site_id].region] for n in nodes], dtype=np.int32),
        pue=np.array([sites[n.site_id].energy.pue for n in nodes]),
        carbon_g_per_kwh_by_hour=carbon,
        accel_mem_gib=accel_mem,
    )
    for value in (
        arrays.tier_rank,
        arrays.region_id,
        arrays.pue,
        arrays.carbon_g_per_kwh_by_hour,
        arrays.accel_mem_gib,
    ):
        value.flags.writeable = False
    return arrays


def site_arrays(topology: Topology) -> NodeSiteArrays:
    """Per-node site facts of ``topology``, cached for the last few versions."""
    cached = _cache.get(topology.version)
    if cached is None:
        cached = _cache[topology.version] = _build_site_arrays(topology)
        while len(_cache) > _CACHE_VERSIONS:
            _cache.popitem(last=False)
    else:
        _cache.move_to_end(topology.version)
    return cached


@dataclass(frozen=True, slots=True, eq=False)
class StaticDemand:
    """Per-node figures of one kind of demand that depend on the topology only.

    A kind of demand is (device, cores or devices held, precision, workload class); many
    requests share one, so these arrays are built once and scaled by each request's work.

    Attributes:
        share: Part of each node the demand holds (0..1; 0 where the device is absent).
        ms_per_gflop: Compute time per GFLOP of work (``inf`` where it cannot run).
        cost_per_gflop: Node price per GFLOP of work at that share (``inf`` where it cannot run).
        kwh_per_gflop: Facility energy per GFLOP (node peak power x share x PUE).
    """

    share: FloatArray
    ms_per_gflop: FloatArray
    cost_per_gflop: FloatArray
    kwh_per_gflop: FloatArray


_STATIC_DEMANDS_KEPT = 256
_REGION_MASKS_KEPT = 256


@dataclass(slots=True)
class ClusterState:
    """Everything a cycle reads besides the request.

    Attributes:
        topology: Sites, nodes, links (capacities).
        reservations: What placements hold now; the Reserve point writes here.
        snapshot: Measured state from the aggregator, or None where nothing reports (the twin,
            plans): then load is taken from the reservations alone.
        hour_of_day: Hour for carbon intensity (0..23) of every node without an hour of its
            own (``node_hour``): the twin's scenario hour; the live state feed sets it to the
            UTC hour.
        efficiency: Share of peak rate per device and workload class.
        node_down: Per node, True while the node is known to be down (failed, unreachable);
            a down node is never a candidate. Set with ``mark_node``.
        link_down: Per link, True while the link is down; no path uses it. Set with
            ``mark_link``.
        node_hour: Per node, the local hour (0..23) its carbon intensity is read at, or None
            (every node at ``hour_of_day``). Set with ``set_hours``.
        leases: Which tenant leases each node (``scheduling.leases``), read by the ``leases``
            filter; empty where nothing is leased.
        catalogue: The services whose CS-IDs tasks name, with their instances' nodes (the live
            catalogue), or None where nothing is resolved (plans, the twin).
    """

    topology: Topology
    reservations: Reservations = field(default=None)  # type: ignore[assignment]
    snapshot: Snapshot | None = None
    hour_of_day: int = 12
    efficiency: EfficiencyTable = DEFAULT_EFFICIENCY
    node_down: npt.NDArray[np.bool_] = field(default=None)  # type: ignore[arg-type]
    link_down: npt.NDArray[np.bool_] = field(default=None)  # type: ignore[arg-type]
    _static: dict[tuple[str, float, Precision, WorkloadClass], StaticDemand] = field(
        default_factory=dict
    )
    node_hour: IntArray | None = None
    _links_down: int = 0
    _link_marks: int = 0
    _everyone: npt.NDArray[np.bool_] | None = None
    _latency_ms: FloatArray | None = None
    _latency_version: int = 0
    _graph: tuple[tuple[int, int], RoutingGraph] | None = None
    leases: NodeLeases = field(default_factory=NodeLeases)
    catalogue: ServiceCatalogue | None = None
    _regions: dict[tuple[int, tuple[str, ...]], npt.NDArray[np.bool_]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.reservations is None:
            self.reservations = Reservations(self.topology.arrays)
        if self.node_down is None:
            self.node_down = np.zeros(len(self.arrays.node_ids), dtype=bool)
        if self.link_down is None:
            self.link_down = np.zeros(len(self.arrays.link_ids), dtype=bool)
        self._links_down = int(self.link_down.sum())
        if not 0 <= self.hour_of_day < HOURS_PER_DAY:
            raise ValueError(f"hour_of_day must lie in 0..23, got {self.hour_of_day}")
        if self.snapshot is not None and self.snapshot.node_ids != self.arrays.node_ids:
            raise ValueError("the snapshot's nodes differ from the topology's")
        if self.node_hour is not None:
            self.set_hours(self.hour_of_day, self.node_hour)
        if self.catalogue is not None and self.catalogue.node_ids != self.arrays.node_ids:
            raise ValueError("the service catalogue's nodes differ from the topology's")

    @property
    def arrays(self) -> TopologyArrays:
        """The topology's array view."""
        return self.topology.arrays

    @property
    def sites(self) -> NodeSiteArrays:
        """Per-node site facts."""
        return site_arrays(self.topology)

    def static_demand(
        self, device: str, held: float, precision: Precision, workload_class: WorkloadClass
    ) -> StaticDemand:
        """The topology-only figures of a kind of demand (see ``StaticDemand``), cached."""
        key = (device, held, precision, workload_class)
        static = self._static.get(key)
        if static is None:
            if len(self._static) >= _STATIC_DEMANDS_KEPT:
                self._static.clear()
            static = self._static[key] = self._build_static(*key)
        return static

    def _build_static(
        self, device: str, held: float, precision: Precision, workload_class: WorkloadClass
    ) -> StaticDemand:
        arrays = self.arrays
        if device == DEVICES[0]:
            have: FloatArray = arrays.node_cpu_cores
        else:
            kind = ACCELERATOR_KINDS.index(AcceleratorKind(device))
            have = arrays.node_accel_count[:, kind].astype(np.float64)
        share = np.where(have > 0, np.minimum(1.0, held / np.maximum(have, 1e-12)), 0.0)
        rate = effective_rate_gflops(arrays, precision, workload_class, self.efficiency)
        rate = rate[:, DEVICES.index(device)] * share
        runs = rate > 0
        seconds_per_gflop = np.full(len(rate), np.inf)
        seconds_per_gflop[runs] = 1.0 / rate[runs]
        cost = np.full(len(rate), np.inf)
        cost[runs] = (arrays.node_price_per_hour * share)[runs] * seconds_per_gflop[runs] / 3600
        kwh = np.full(len(rate), np.inf)
        power = arrays.node_peak_power_w * share * self.sites.pue
        kwh[runs] = power[runs] * seconds_per_gflop[runs] / 3.6e6
        static = StaticDemand(share, seconds_per_gflop * 1000.0, cost, kwh)
        for array in (
            static.share,
            static.ms_per_gflop,
            static.cost_per_gflop,
            static.kwh_per_gflop,
        ):
            array.flags.writeable = False
        return static

    def with_frozen_ledger(self) -> ClusterState:
        """This state reading a frozen copy of the ledger (for explaining a past cycle)."""
        self.routing_graph()  # built here so that both route on the one graph and its caches
        return ClusterState(
            self.topology,
            self.reservations.frozen_copy(),
            self.snapshot,
            self.hour_of_day,
            self.efficiency,
            self.node_down.copy(),
            self.link_down.copy(),
            self._static,
            self.node_hour,
            _latency_ms=self._latency_ms,
            _latency_version=self._latency_version,
            _graph=self._graph,
            leases=self.leases,
            catalogue=self.catalogue,
            _regions=self._regions,
        )

    def set_efficiency(self, table: EfficiencyTable) -> None:
        """Estimate with ``table`` from now on (drops the figures built with the old one)."""
        if table != self.efficiency:
            self.efficiency = table
            self._static.clear()

    def mark_node(self, node: int, down: bool) -> bool:
        """Mark node index ``node`` down (True) or up; True if that changed anything."""
        changed = bool(self.node_down[node]) != down
        self.node_down[node] = down
        return changed

    def mark_link(self, link: int, down: bool) -> bool:
        """Mark link index ``link`` down (True) or up; True if that changed anything."""
        changed = bool(self.link_down[link]) != down
        if changed:
            self.link_down[link] = down
            self._links_down += 1 if down else -1
            self._link_marks += 1
        return changed

    @property
    def link_marks(self) -> int:
        """How many times ``mark_link`` changed ``link_down``: a version for route caches."""
        return self._link_marks

    def down_links(self) -> npt.NDArray[np.bool_] | None:
        """The ``link_down`` mask, or None while every link is up (the common, cheap case)."""
        return self.link_down if self._links_down else None

    def everyone(self) -> npt.NDArray[np.bool_]:
        """A read-only mask with every node True, made once.

        Filters that turn no node away return it, and cycles start from it.
        """
        everyone = self._everyone
        if everyone is None:
            everyone = self._everyone = np.ones(len(self.arrays.node_ids), dtype=bool)
            everyone.flags.writeable = False
        return everyone

    def cpu_utilisation(self) -> FloatArray:
        """Share of each node's cores in use: reserved, or measured load where higher."""
        capacity = self.arrays.node_cpu_cores
        # Divide only where there are cores (1 elsewhere): no warnings to silence, which costs
        # more than the division on a small topology.
        reserved = np.ones(len(capacity))
        np.divide(self.reservations.cpu_cores, capacity, out=reserved, where=capacity > 0)
        if self.snapshot is None:
            return reserved
        return np.maximum(reserved, self.snapshot.load_ratio)

    def mem_utilisation(self) -> FloatArray:
        """Share of each node's memory reserved."""
        capacity = self.arrays.node_mem_gib
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(capacity > 0, self.reservations.mem_gib / capacity, 1.0)

    def region_mask(self, patterns: tuple[str, ...]) -> npt.NDArray[np.bool_]:
        """Nodes whose site region lies inside one of ``patterns`` by the region hierarchy.

        ``CN`` holds ``CN`` and ``CN-GD-SZ`` but ``CN-G`` does not hold ``CN-GD``: segments
        split on ``-`` (``suanwang.model.region_within``), never a bare string prefix.
        """
        key = (self.topology.version, patterns)
        kept = self._regions.get(key)
        if kept is not None:
            return kept
        sites = self.sites
        allowed = [
            i
            for i, code in enumerate(sites.region_codes)
            if any(region_within(code, pattern) for pattern in patterns)
        ]
        mask = np.isin(sites.region_id, allowed)
        # A policy mask depends on the topology alone: kept, read-only, for the next cycle.
        mask.flags.writeable = False
        if len(self._regions) >= _REGION_MASKS_KEPT:
            self._regions.clear()
        self._regions[key] = mask
        return mask

    def set_snapshot(self, snapshot: Snapshot | None) -> None:
        """Read measured state from ``snapshot`` from now on (None: reservations alone).

        Raises:
            ValueError: the snapshot's nodes are not the topology's, in its order.
        """
        if snapshot is not None and snapshot.node_ids != self.arrays.node_ids:
            raise ValueError("the snapshot's nodes differ from the topology's")
        self.snapshot = snapshot

    def set_hours(self, hour_of_day: int, node_hour: npt.ArrayLike | None = None) -> None:
        """Set the hour carbon is read at: one for every node, or each node's own.

        Raises:
            ValueError: an hour outside 0..23, or ``node_hour`` not one entry per node.
        """
        if not 0 <= hour_of_day < HOURS_PER_DAY:
            raise ValueError(f"hour_of_day must lie in 0..23, got {hour_of_day}")
        hours = None
        if node_hour is not None:
            hours = np.array(node_hour, dtype=np.int32)
            if hours.shape != (len(self.arrays.node_ids),):
                raise ValueError(f"node_hour needs one hour per node, got shape {hours.shape}")
            if hours.size and (hours.min() < 0 or hours.max() >= HOURS_PER_DAY):
                raise ValueError("node_hour entries must lie in 0..23")
            hours.flags.writeable = False
        self.hour_of_day, self.node_hour = hour_of_day, hours

    def carbon_g_per_kwh(self) -> FloatArray:
        """Grid carbon intensity at each node's site at its hour (``node_hour`` or the state's)."""
        by_hour = self.sites.carbon_g_per_kwh_by_hour
        if self.node_hour is None:
            row: FloatArray = by_hour[self.hour_of_day]
            return row
        each: FloatArray = by_hour[self.node_hour, np.arange(by_hour.shape[1])]
        return each

    def set_link_latency(self, latency_ms: npt.ArrayLike | None) -> bool:
        """Route on ``latency_ms`` (one-way, per link; measured) instead of the configured figures.

        None goes back to the topology's figures. ``latency_version`` changes exactly when the
        latencies routed on do, so route caches keyed by it stay right.

        Returns:
            Whether the latencies routed on changed.

        Raises:
            ValueError: not one finite, non-negative latency per link.
        """
        new = None
        if latency_ms is not None:
            new = np.array(latency_ms, dtype=np.float64)
            if new.shape != (len(self.arrays.link_ids),):
                raise ValueError(f"latency_ms needs one entry per link, got shape {new.shape}")
            if not (np.isfinite(new).all() and (new >= 0).all()):
                raise ValueError("latency_ms must be finite and not negative")
            if np.array_equal(new, self.arrays.link_latency_ms):
                new = None  # the configured figures: share the topology's cached graph
        old = self._latency_ms
        if (old is None and new is None) or (
            old is not None and new is not None and np.array_equal(old, new)
        ):
            return False
        if new is not None:
            new.flags.writeable = False
        self._latency_ms = new
        self._latency_version += 1
        return True

    @property
    def latency_version(self) -> int:
        """How many times ``set_link_latency`` changed the latencies routed on."""
        return self._latency_version

    def link_latency_ms(self) -> FloatArray:
        """One-way latency of each link routing uses: measured where set, else configured."""
        return self.arrays.link_latency_ms if self._latency_ms is None else self._latency_ms

    def routing_graph(self) -> RoutingGraph:
        """The routing graph over ``link_latency_ms``, one object per (topology, latencies)."""
        if self._latency_ms is None:
            return routing_graph(self.topology)
        key = (self.topology.version, self._latency_version)
        kept = self._graph
        if kept is None or kept[0] != key:
            kept = self._graph = (key, reweighted_graph(self.topology, self._latency_ms))
        return kept[1]

    def free_cpu_cores(self) -> FloatArray:
        """Cores free by the ledger, and no more than measured free where agents report.

        A task running on a node holds cores in the ledger and keeps them busy, so the two
        agree while only placed work runs; the smaller one wins where they differ: load the
        ledger does not know of (other users' processes, a task over its share), or a task
        placed and not yet measured. Measured figures get ``MEASURED_SLACK_CORES`` of slack;
        nodes without a report (``age_s`` infinite) keep the ledger's figure.
        """
        free = self.reservations.free_cpu_cores()
        snapshot = self.snapshot
        if snapshot is None:
            return free
        measured = np.where(
            np.isfinite(snapshot.age_s), snapshot.cpu_free_cores + MEASURED_SLACK_CORES, np.inf
        )
        return np.minimum(free, measured)

    def usable(self) -> npt.NDArray[np.bool_]:
        """Nodes neither marked down nor excluded by awareness (a snapshot's staleness)."""
        if self.snapshot is None:
            return ~self.node_down
        return self.snapshot.usable & ~self.node_down
