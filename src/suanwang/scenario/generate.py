"""A seeded generator of realistic tiered computing force networks, from 1 to 1,000,000 nodes.

``generate_scenario(nodes, seed)`` lays the tiers of DESIGN.md §1 over China: up to eight national
hubs of the "east data, west computing" programme (the west ones greener and cheaper), one
regional cloud per province, edge sites around the provincial capitals, on-site boxes around the
edges, and one terminal ingress site by each edge. The network is a tree with redundancy: hub
core routers form a backbone (a ring plus each hub's two nearest), every regional gateway is
dual-homed to its two nearest hubs and cross-linked to its nearest neighbour region, some edges
are dual-homed to a second region, and terminals reach both their edge and an on-site box.

Link latency is a per-tier access or equipment overhead plus the fibre delay of the great-circle
distance, chosen so that the round trips of DESIGN.md §9 hold from a terminal: on-site 1-5 ms,
edge 5-20 ms, region 20-40 ms. Everything is drawn in bulk from numpy's ``default_rng(seed)`` and
records are built in comprehensions: no per-node Python work beyond constructing the record.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from itertools import islice

import numpy as np
import numpy.typing as npt

from suanwang.model import (
    DEFAULT_ROUTING_FACTOR,
    FIBRE_US_PER_KM,
    Accelerator,
    AcceleratorKind,
    AcceleratorNeed,
    Architecture,
    Arrivals,
    DataPolicy,
    ElementKind,
    EnergyProfile,
    FailureScope,
    GeoPosition,
    InNetworkCompute,
    InstanceId,
    Link,
    NetworkElement,
    Node,
    Precision,
    RandomFailures,
    Scenario,
    Service,
    ServiceId,
    ServiceInstance,
    Site,
    TaskClass,
    TaskSpec,
    TaskType,
    Tier,
    Topology,
    TrustLevel,
    Workload,
)
from suanwang.scenario.errors import ScenarioError

MAX_NODES = 1_000_000
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
_NAME = re.compile(r"^[A-Za-z0-9_.:@/+-]{1,200}$")
_LAT, _LON = (18.2, 53.5), (73.6, 134.7)  # China's bounding box
_KM_PER_DEG = 111.2
_EARTH_RADIUS_KM = 6371.0088
_DUAL_HOMING_KM = 800.0  # an edge's second uplink goes to a region at most this far away
_F64, _F32, _F16, _I8 = Precision.FP64, Precision.FP32, Precision.FP16, Precision.INT8

# id, name, lat, lon, region code, power grid, zone of "east data, west computing" (DESIGN.md §9).
# The order alternates west and east, so that a few hubs already hold both kinds.
_HUBS = (
    ("hub-nm", "Inner Mongolia hub (Horinger)", 40.38, 111.82, "CN-NM", "north", "west"),
    ("hub-jjj", "Beijing-Tianjin-Hebei hub (Zhangjiakou)", 40.77, 114.88, "CN-HE", "north", "east"),
    ("hub-gz", "Guizhou hub (Gui'an)", 26.45, 106.42, "CN-GZ", "south", "west"),
    ("hub-yrd", "Yangtze River Delta hub (Wuhu)", 31.35, 118.43, "CN-AH", "east", "east"),
    ("hub-gs", "Gansu hub (Qingyang)", 35.71, 107.64, "CN-GS", "northwest", "west"),
    ("hub-gba", "Guangdong-HK-Macao hub (Shaoguan)", 24.81, 113.60, "CN-GD", "south", "east"),
    ("hub-nx", "Ningxia hub (Zhongwei)", 37.50, 105.19, "CN-NX", "northwest", "west"),
    ("hub-cy", "Chengdu-Chongqing hub (Tianfu)", 30.41, 104.07, "CN-SC", "southwest", "east"),
)
# Province code, capital, lat, lon, power grid, population in millions (weights its edge sites).
_REGIONS = (
    ("GD", "Guangzhou", 23.13, 113.26, "south", 126),
    ("BJ", "Beijing", 39.90, 116.41, "north", 22),
    ("SH", "Shanghai", 31.23, 121.47, "east", 25),
    ("JS", "Nanjing", 32.06, 118.80, "east", 85),
    ("ZJ", "Hangzhou", 30.27, 120.16, "east", 65),
    ("SC", "Chengdu", 30.57, 104.07, "southwest", 84),
    ("SD", "Jinan", 36.65, 117.12, "north", 102),
    ("HB", "Wuhan", 30.59, 114.31, "central", 58),
    ("HA", "Zhengzhou", 34.75, 113.62, "central", 99),
    ("HN", "Changsha", 28.23, 112.94, "central", 66),
    ("FJ", "Fuzhou", 26.07, 119.30, "east", 42),
    ("AH", "Hefei", 31.82, 117.23, "east", 61),
    ("HE", "Shijiazhuang", 38.04, 114.51, "north", 75),
    ("SN", "Xi'an", 34.34, 108.94, "northwest", 40),
    ("CQ", "Chongqing", 29.56, 106.55, "southwest", 32),
    ("TJ", "Tianjin", 39.13, 117.20, "north", 14),
    ("LN", "Shenyang", 41.81, 123.43, "northeast", 43),
    ("JX", "Nanchang", 28.68, 115.86, "central", 45),
    ("GX", "Nanning", 22.82, 108.37, "south", 50),
    ("YN", "Kunming", 25.04, 102.71, "south", 47),
    ("SX", "Taiyuan", 37.87, 112.55, "north", 35),
    ("GZ", "Guiyang", 26.65, 106.63, "south", 39),
    ("HL", "Harbin", 45.80, 126.53, "northeast", 31),
    ("JL", "Changchun", 43.82, 125.32, "northeast", 24),
    ("NM", "Hohhot", 40.84, 111.75, "north", 24),
    ("XJ", "Urumqi", 43.83, 87.62, "northwest", 26),
    ("GS", "Lanzhou", 36.06, 103.83, "northwest", 25),
    ("HI", "Haikou", 20.04, 110.20, "south", 10),
    ("NX", "Yinchuan", 38.49, 106.23, "northwest", 7),
    ("QH", "Xining", 36.62, 101.78, "northwest", 6),
    ("XZ", "Lhasa", 29.65, 91.17, "southwest", 4),
)
# Power grid: (mean carbon intensity g/kWh, price per kWh); grids differ several-fold (§9).
_GRIDS = {
    "north": (700.0, 0.60),
    "northeast": (650.0, 0.58),
    "east": (560.0, 0.68),
    "central": (520.0, 0.62),
    "northwest": (470.0, 0.45),
    "south": (420.0, 0.65),
    "southwest": (200.0, 0.50),
}
_PUE = {Tier.REGION: 1.35, Tier.EDGE: 1.5, Tier.ONSITE: 1.6}  # hubs: 1.15 west, 1.25 east
# West hubs buy wind and solar power: cleanest around 13:00, dirtiest at night.
_WEST_CARBON = tuple(
    round(260.0 * (1.0 - 0.35 * math.cos(2 * math.pi * (h - 13) / 24)), 1) for h in range(24)
)
_HUB_ENERGY = {
    "west": EnergyProfile("hub-west", 1.15, 260.0, _WEST_CARBON, 0.32),
    "east": EnergyProfile("hub-east", 1.25, 540.0, None, 0.62),
}
# Owners of compute sites: the operator's own are sovereign, third parties are trusted less.
_OWNERS = (
    ("operator", TrustLevel.SOVEREIGN),
    ("partner-cloud-a", TrustLevel.VERIFIED),
    ("partner-cloud-b", TrustLevel.VERIFIED),
    ("provider-metro", TrustLevel.BASIC),
    ("community", TrustLevel.UNTRUSTED),
)

# Accelerators: peak rates of one device (10^9 operations/s), memory GiB, board power W.
_GPU, _NPU, _FPGA = AcceleratorKind.GPU, AcceleratorKind.NPU, AcceleratorKind.FPGA
_A100 = Accelerator(_GPU, "A100-80G", 8, {_F64: 9_700, _F32: 19_500, _F16: 312_000}, 80, 400)
_ASCEND = Accelerator(_NPU, "Ascend-910B", 8, {_F16: 320_000, _I8: 640_000}, 64, 400)
_L40S = Accelerator(_GPU, "L40S", 4, {_F32: 91_600, _F16: 362_000, _I8: 733_000}, 48, 350)
_U55C = Accelerator(_FPGA, "Alveo-U55C", 2, {_F16: 6_000, _I8: 24_000}, 16, 150)
_T4 = Accelerator(_GPU, "T4", 1, {_F32: 8_100, _F16: 65_000, _I8: 130_000}, 16, 70)
_ATLAS = Accelerator(_NPU, "Atlas-300I-Pro", 2, {_F16: 70_000, _I8: 140_000}, 24, 72)
_ORIN = Accelerator(_GPU, "Jetson-AGX-Orin", 1, {_F32: 5_300, _F16: 10_600, _I8: 138_000}, 32, 45)


_NodeFields = tuple[
    Architecture, int, float, float, dict[Precision, float], tuple[Accelerator, ...], float, float
]


@dataclass(frozen=True, slots=True)
class _Profile:
    """A hardware profile: a node's fields from ``arch`` to ``peak_power_w``, and a base price."""

    name: str
    arch: Architecture
    cpu_cores: int
    mem_gib: float
    storage_gib: float
    cpu_fp64_gflops: float
    accelerators: tuple[Accelerator, ...]
    idle_power_w: float
    peak_power_w: float
    price_per_hour: float

    def node_fields(self) -> _NodeFields:
        """Positional Node arguments from ``arch`` to ``peak_power_w`` (fp32 = 2 x fp64)."""
        rates = {_F64: self.cpu_fp64_gflops, _F32: 2.0 * self.cpu_fp64_gflops}
        return (self.arch, self.cpu_cores, self.mem_gib, self.storage_gib, rates,
                self.accelerators, self.idle_power_w, self.peak_power_w)  # fmt: skip


_X86, _ARM, _RV = Architecture.X86, Architecture.ARM, Architecture.RISCV
_CATALOGUE = (
    _Profile("gpu-a100x8", _X86, 128, 2048, 30720, 7000, (_A100,), 1500, 6500, 32.0),
    _Profile("npu-910bx8", _ARM, 192, 1536, 30720, 4000, (_ASCEND,), 1200, 5600, 24.0),
    _Profile("cpu-x86-2s", _X86, 96, 768, 7680, 7000, (), 260, 800, 3.6),
    _Profile("cpu-kunpeng-2s", _ARM, 128, 512, 7680, 2660, (), 220, 650, 2.8),
    _Profile("cpu-x86-1s", _X86, 64, 256, 3840, 3500, (), 160, 450, 1.9),
    _Profile("gpu-l40sx4", _X86, 64, 512, 7680, 3500, (_L40S,), 600, 2200, 12.0),
    _Profile("fpga-u55cx2", _X86, 32, 256, 3840, 1750, (_U55C,), 250, 650, 4.0),
    _Profile("edge-gpu-t4", _X86, 16, 64, 1920, 700, (_T4,), 90, 280, 1.4),
    _Profile("edge-cpu", _X86, 32, 128, 1920, 1500, (), 110, 350, 1.0),
    _Profile("edge-npu-atlas", _ARM, 48, 128, 1920, 1000, (_ATLAS,), 150, 400, 1.6),
    _Profile("onsite-orin", _ARM, 12, 64, 256, 210, (_ORIN,), 15, 60, 0.5),
    _Profile("onsite-arm", _ARM, 8, 16, 256, 50, (), 5, 20, 0.12),
    _Profile("onsite-riscv", _RV, 4, 8, 64, 15, (), 3, 10, 0.06),
)
_PROFILE_INDEX = {p.name: i for i, p in enumerate(_CATALOGUE)}


@dataclass(frozen=True, slots=True)
class _TierPlan:
    """How one compute tier is drawn: node share, site sizes, hardware, owners, price level."""

    tier: Tier
    share: float
    nodes_per_site: int
    max_sites: int
    profiles: dict[str, float]  # catalogue name -> probability
    owners: tuple[float, ...]  # probability of each entry of _OWNERS
    price_factor: float


_HUB_PLAN = _TierPlan(
    Tier.HUB, 0.35, 25, len(_HUBS),
    {"gpu-a100x8": 0.25, "npu-910bx8": 0.15, "cpu-x86-2s": 0.4, "cpu-kunpeng-2s": 0.2},
    (1.0, 0.0, 0.0, 0.0, 0.0), 0.9,
)  # fmt: skip
_REGION_PLAN = _TierPlan(
    Tier.REGION, 0.25, 20, len(_REGIONS),
    {"cpu-x86-2s": 0.45, "cpu-x86-1s": 0.25, "gpu-l40sx4": 0.15, "cpu-kunpeng-2s": 0.1,
     "fpga-u55cx2": 0.05},
    (0.8, 0.1, 0.1, 0.0, 0.0), 1.05,
)  # fmt: skip
_EDGE_PLAN = _TierPlan(
    Tier.EDGE, 0.25, 12, MAX_NODES,
    {"edge-gpu-t4": 0.35, "edge-cpu": 0.4, "edge-npu-atlas": 0.25},
    (0.6, 0.15, 0.1, 0.15, 0.0), 1.2,
)  # fmt: skip
_ONSITE_PLAN = _TierPlan(
    Tier.ONSITE, 0.15, 4, MAX_NODES,
    {"onsite-orin": 0.35, "onsite-arm": 0.5, "onsite-riscv": 0.15},
    (0.3, 0.0, 0.0, 0.5, 0.2), 1.4,
)  # fmt: skip
_PLANS = (_HUB_PLAN, _REGION_PLAN, _EDGE_PLAN, _ONSITE_PLAN)


@dataclass(frozen=True, slots=True)
class _LinkPlan:
    """How links of one kind are drawn: one-way latency overhead, bandwidth and quality."""

    overhead_ms: tuple[float, float]
    bandwidth_mbps: tuple[float, ...]
    loss_ratio: float = 0.0
    jitter_ms: float = 0.0
    cost_per_gb: float = 0.0
    slice_mbps: float = 0.0


_LAN = _LinkPlan((0.05, 0.05), (400_000.0,), jitter_ms=0.01)
_BACKBONE = _LinkPlan((0.5, 1.0), (400_000.0, 800_000.0), jitter_ms=0.2, cost_per_gb=0.02)
_REGION_UP = _LinkPlan((1.0, 3.0), (100_000.0, 200_000.0), jitter_ms=0.3, cost_per_gb=0.03)
_REGION_CROSS = _LinkPlan((1.0, 3.0), (100_000.0,), jitter_ms=0.3, cost_per_gb=0.04)
_EDGE_UP = _LinkPlan((6.0, 10.0), (10_000.0, 40_000.0, 100_000.0), 1e-5, 0.5, 0.01, 1_000.0)
_ONSITE_UP = _LinkPlan((1.5, 4.0), (1_000.0, 10_000.0), 1e-4, 0.3, 0.0, 100.0)
_ACCESS_EDGE = _LinkPlan((2.5, 5.0), (10_000.0,), 5e-4, 1.0)
_ACCESS_ONSITE = _LinkPlan((0.5, 2.0), (1_000.0, 2_500.0), 1e-3, 0.5)


@dataclass(slots=True)
class _Layer:
    """The sites of one tier as arrays, and the vertices lower tiers attach to."""

    site_ids: list[str]
    attach_ids: list[str]
    lat: Floats
    lon: Floats
    codes: list[str]
    grids: list[str]
    discount: Floats | float = 1.0  # node price multiplier per site (west hubs are cheaper)

    def __len__(self) -> int:
        return len(self.site_ids)

    def head(self) -> _Layer:
        """The first site alone."""
        return _Layer(
            self.site_ids[:1], self.attach_ids[:1], self.lat[:1], self.lon[:1], self.codes[:1],
            self.grids[:1],
        )  # fmt: skip


def _km(lat1: Floats, lon1: Floats, lat2: Floats, lon2: Floats) -> Floats:
    """Great-circle (haversine) distances in km, element-wise with broadcasting."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlon = np.radians(lon2 - lon1)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    km: Floats = 2 * _EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    return km


def _pairwise_km(a: _Layer, b: _Layer) -> Floats:
    return _km(a.lat[:, None], a.lon[:, None], b.lat[None, :], b.lon[None, :])


@dataclass(slots=True)
class _Builder:
    """Collects the records of one scenario as the tiers are drawn, top down."""

    rng: np.random.Generator
    sites: list[Site] = field(default_factory=list)
    energy: dict[str, EnergyProfile] = field(default_factory=dict)
    elements: list[NetworkElement] = field(default_factory=list)
    links: list[tuple[list[str], list[str], Floats, _LinkPlan]] = field(default_factory=list)
    compute: list[tuple[_Layer, _TierPlan, int]] = field(default_factory=list)

    def near(self, up: _Layer, parent: Ints, km: tuple[float, float]) -> tuple[Floats, Floats]:
        """Positions ``km`` (a range) away from each ``parent`` in ``up``, clipped to China."""
        n = len(parent)
        dist, bearing = self.rng.uniform(*km, n), self.rng.uniform(0.0, 2 * math.pi, n)
        lat0, lon0 = up.lat[parent], up.lon[parent]
        lat = lat0 + dist / _KM_PER_DEG * np.cos(bearing)
        lon = lon0 + dist / (_KM_PER_DEG * np.cos(np.radians(lat0))) * np.sin(bearing)
        lat_out = np.asarray(np.round(np.clip(lat, _LAT[0], _LAT[1]), 4), dtype=np.float64)
        lon_out = np.asarray(np.round(np.clip(lon, _LON[0], _LON[1]), 4), dtype=np.float64)
        return lat_out, lon_out

    def add_sites(
        self,
        tier: Tier,
        layer: _Layer,
        names: list[str] | None = None,
        labels: list[tuple[tuple[str, str], ...]] | None = None,
        energy: list[EnergyProfile] | None = None,
    ) -> None:
        """Site records for ``layer``; energy by grid and tier unless given (none: terminals)."""
        if energy is None and tier is not Tier.TERMINAL:
            made = {
                grid: EnergyProfile(
                    f"{tier.value}-{grid}",
                    pue=_PUE[tier],
                    carbon_g_per_kwh=_GRIDS[grid][0],
                    price_per_kwh=_GRIDS[grid][1],
                )
                for grid in sorted(set(layer.grids))
            }
            energy = [made[grid] for grid in layer.grids]
        for profile in dict.fromkeys(energy or ()):
            self.energy[profile.name] = profile
        n = len(layer)
        geo = [
            GeoPosition(a, o) for a, o in zip(layer.lat.tolist(), layer.lon.tolist(), strict=True)
        ]
        self.sites.extend(
            Site(site_id, tier, name, code, position, profile, label)
            for site_id, name, code, position, profile, label in zip(
                layer.site_ids,
                names or [""] * n,
                layer.codes,
                geo,
                energy or [EnergyProfile()] * n,
                labels or [()] * n,
                strict=True,
            )
        )

    def link(self, a: _Layer, ia: Ints, b: _Layer, ib: Ints, plan: _LinkPlan) -> None:
        """Links from ``a``'s vertices ``ia`` to ``b``'s vertices ``ib`` (pairwise)."""
        if len(ia):
            km = _km(a.lat[ia], a.lon[ia], b.lat[ib], b.lon[ib])
            ids_a, ids_b = a.attach_ids, b.attach_ids
            self.links.append(
                ([ids_a[i] for i in ia.tolist()], [ids_b[i] for i in ib.tolist()], km, plan)
            )

    def lan(self, layer: _Layer) -> None:
        """Each site of ``layer`` to its own router or gateway."""
        everyone = np.arange(len(layer))
        sites = replace(layer, attach_ids=layer.site_ids)
        self.link(sites, everyone, layer, everyone, _LAN)

    def build_links(self) -> list[Link]:
        """The link records: latency = overhead + fibre delay of the distance (ms, one way)."""
        per_km = DEFAULT_ROUTING_FACTOR * FIBRE_US_PER_KM / 1000.0
        out: list[Link] = []
        for a, b, km, plan in self.links:
            n = len(a)
            latency = np.round(self.rng.uniform(*plan.overhead_ms, n) + km * per_km, 3).tolist()
            bandwidth = self.rng.choice(np.asarray(plan.bandwidth_mbps), n).tolist()
            loss, jitter, cost, reserved = (
                plan.loss_ratio, plan.jitter_ms, plan.cost_per_gb, plan.slice_mbps,
            )  # fmt: skip
            out.extend(
                Link(f"{x}--{y}", x, y, bw, ms, loss, jitter, cost, reserved)
                for x, y, bw, ms in zip(a, b, bandwidth, latency, strict=True)
            )
        return out


def _split(nodes: int) -> list[int]:
    """Nodes per compute tier by share, by largest remainder (so that they sum to ``nodes``)."""
    raw = np.array([plan.share for plan in _PLANS]) * nodes
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: nodes - int(counts.sum())]] += 1
    return [int(c) for c in counts]


def _site_count(plan: _TierPlan, nodes: int) -> int:
    return min(plan.max_sites, -(-nodes // plan.nodes_per_site))


def _pairs(pairs: set[tuple[int, int]]) -> tuple[Ints, Ints]:
    ordered = sorted({(min(p), max(p)) for p in pairs})
    return np.array([p[0] for p in ordered], np.int64), np.array([p[1] for p in ordered], np.int64)


def _hubs(b: _Builder, count: int) -> _Layer:
    rows = _HUBS[:count]
    layer = _Layer(
        site_ids=[r[0] for r in rows],
        attach_ids=[f"{r[0]}-core" for r in rows],
        lat=np.array([r[2] for r in rows]),
        lon=np.array([r[3] for r in rows]),
        codes=[r[4] for r in rows],
        grids=[r[5] for r in rows],
        discount=np.array([0.8 if r[6] == "west" else 1.0 for r in rows]),
    )
    zones = [r[6] for r in rows]
    b.add_sites(
        Tier.HUB,
        layer,
        names=[r[1] for r in rows],
        labels=[(("zone", zone),) for zone in zones],
        energy=[_HUB_ENERGY[zone] for zone in zones],
    )
    b.elements.extend(
        NetworkElement(router, ElementKind.ROUTER, site)
        for router, site in zip(layer.attach_ids, layer.site_ids, strict=True)
    )
    b.lan(layer)
    # Backbone: a ring in table order plus each hub's two nearest hubs.
    nearest = np.argsort(_pairwise_km(layer, layer), axis=1)[:, 1:3].tolist()
    pairs = {(i, (i + 1) % count) for i in range(count) if count > 1}
    pairs.update((i, j) for i, near in enumerate(nearest) for j in near)
    i, j = _pairs(pairs)
    b.link(layer, i, layer, j, _BACKBONE)
    return layer


def _regions(b: _Builder, count: int, hubs: _Layer) -> _Layer:
    rows = _REGIONS[:count]
    ids = [f"reg-{r[0].lower()}" for r in rows]
    layer = _Layer(
        site_ids=ids,
        attach_ids=[f"{site}-gw" for site in ids],
        lat=np.array([r[2] for r in rows]),
        lon=np.array([r[3] for r in rows]),
        codes=[f"CN-{r[0]}" for r in rows],
        grids=[r[4] for r in rows],
    )
    b.add_sites(Tier.REGION, layer, names=[f"{r[1]} regional cloud" for r in rows])
    in_network = InNetworkCompute(cpu_cores=8, mem_gib=16.0, peak_gflops=400.0)
    b.elements.extend(
        NetworkElement(gateway, ElementKind.GATEWAY, site, compute=in_network)
        for gateway, site in zip(layer.attach_ids, ids, strict=True)
    )
    b.lan(layer)
    everyone = np.arange(count)
    to_hubs = np.argsort(_pairwise_km(layer, hubs), axis=1)
    for rank in range(min(2, len(hubs))):  # dual-homed to the two nearest hubs
        b.link(layer, everyone, hubs, to_hubs[:, rank], _REGION_UP)
    if count > 1:  # cross-linked to the nearest other region
        nearest = np.argsort(_pairwise_km(layer, layer), axis=1)[:, 1].tolist()
        i, j = _pairs(set(enumerate(nearest)))
        b.link(layer, i, layer, j, _REGION_CROSS)
    return layer


def _below(
    b: _Builder,
    tier: Tier,
    count: int,
    up: _Layer,
    *,
    km: tuple[float, float],
    weights: Floats | None = None,
    dual: float = 0.0,
    cover: bool = False,
) -> tuple[_Layer, Ints]:
    """``count`` sites of ``tier`` near parents drawn from ``up`` by weight, and the parents."""
    parent = b.rng.choice(len(up), count, p=weights).astype(np.int64)
    if cover:  # every parent gets one child first (while children last)
        first = min(count, len(up))
        parent[:first] = b.rng.permutation(len(up))[:first]
    lat, lon = b.near(up, parent, km)
    ids = [f"{tier.value}-{i}" for i in range(count)]
    up_of = parent.tolist()
    codes, grids = [up.codes[p] for p in up_of], [up.grids[p] for p in up_of]
    layer = _Layer(ids, ids, lat, lon, codes, grids)
    b.add_sites(tier, layer)
    everyone = np.arange(count)
    b.link(layer, everyone, up, parent, _EDGE_UP if tier is Tier.EDGE else _ONSITE_UP)
    if dual and len(up) > 1:  # some are dual-homed: also to the nearest other parent near by
        km_up = _pairwise_km(layer, up)
        km_up[everyone, parent] = np.inf
        second = np.argmin(km_up, axis=1)
        near_enough = km_up[everyone, second] <= _DUAL_HOMING_KM
        pick = np.flatnonzero((b.rng.random(count) < dual) & near_enough)
        b.link(layer, pick, up, second[pick], _EDGE_UP)
    return layer, parent


def _terminals(b: _Builder, edges: _Layer, onsite: _Layer | None, onsite_parent: Ints) -> _Layer:
    """One terminal ingress site by each edge, linked to it and to an on-site box under it."""
    count = len(edges)
    everyone = np.arange(count)
    lat, lon = b.near(edges, everyone, (1.0, 10.0))
    ids = [f"terminal-{i}" for i in range(count)]
    layer = _Layer(ids, ids, lat, lon, edges.codes, edges.grids)
    b.add_sites(Tier.TERMINAL, layer)
    b.link(layer, everyone, edges, everyone, _ACCESS_EDGE)
    if onsite is not None and len(onsite_parent):
        with_box, first_box = np.unique(onsite_parent, return_index=True)
        b.link(layer, with_box, onsite, first_box.astype(np.int64), _ACCESS_ONSITE)
    return layer


def _nodes(b: _Builder) -> tuple[list[Node], Ints]:
    """Nodes of every compute site, and their catalogue profiles; drawn in bulk per tier."""
    rng = b.rng
    site_ids: list[str] = []
    counts, profiles, owners, factors = [], [], [], []
    for layer, plan, n in b.compute:
        s = len(layer)
        weights = rng.lognormal(0.0, 0.5, s)
        counts.append(1 + rng.multinomial(n - s, weights / weights.sum()))
        names = [_PROFILE_INDEX[name] for name in plan.profiles]
        chances = np.array(list(plan.profiles.values()))
        profiles.append(rng.choice(names, n, p=chances / chances.sum()))
        owner_chances = np.array(plan.owners)
        owners.append(rng.choice(len(_OWNERS), s, p=owner_chances / owner_chances.sum()))
        factors.append(plan.price_factor * layer.discount * rng.uniform(0.95, 1.05, s))
        site_ids.extend(layer.site_ids)
    per_site = np.concatenate(counts)
    site_of = np.repeat(np.arange(len(site_ids)), per_site)
    total = len(site_of)
    local = np.arange(1, total + 1) - np.repeat(np.cumsum(per_site) - per_site, per_site)
    profile = np.concatenate(profiles).astype(np.int64)
    base = np.array([p.price_per_hour for p in _CATALOGUE])
    jitter = rng.uniform(0.97, 1.03, total)
    price = np.round(base[profile] * np.concatenate(factors)[site_of] * jitter, 2)
    fixed = [p.node_fields() for p in _CATALOGUE]
    labels = [(("profile", p.name),) for p in _CATALOGUE]
    owner_of = [_OWNERS[k] for k in np.concatenate(owners).tolist()]
    profile_of: list[int] = profile.tolist()
    rows = zip(site_of.tolist(), local.tolist(), profile_of, price.tolist(), strict=True)
    nodes = [
        Node(
            f"{site_ids[s]}-n{k}",
            site_ids[s],
            *fixed[p],
            owner_of[s][1],
            owner_of[s][0],
            c,
            labels[p],
        )
        for s, k, p, c in rows
    ]
    return nodes, profile


def _task_types() -> tuple[TaskType, ...]:
    """The catalogue: hot, warm and cold work sized from the field figures of DESIGN.md §9."""
    hot, warm, cold = TaskClass.HOT, TaskClass.WARM, TaskClass.COLD
    verified = TrustLevel.VERIFIED
    types = (
        TaskType("ar-frame", TaskSpec(
            267.0, _F16, 1.0, 1.0, AcceleratorNeed(_GPU, 1, 1.0), 0.5, 0.25,
            latency_budget_ms=20.0, task_class=hot, min_trust_level=TrustLevel.BASIC,
            service_id="cs-ar",
        ), "AR/VR frame: a stream needs ~8 TFLOPS FP16 at 30 fps; motion-to-photon 20 ms"),
        TaskType("v2x-fusion", TaskSpec(
            264.0, _F16, 2.0, 1.0, AcceleratorNeed(_NPU, 1, 1.0), 1.0, 0.1,
            latency_budget_ms=100.0, task_class=hot, data_tags=frozenset({"vehicle"}),
            min_trust_level=verified, service_id="cs-v2x",
        ), "Road-side V2X fusion on an NPU: ~8 TFLOPS FP16 per stream, processed within 100 ms"),
        TaskType("risk-score", TaskSpec(
            1_070.0, _F16, 4.0, 4.0, AcceleratorNeed(_GPU, 1, 4.0), 0.2, 0.01,
            latency_budget_ms=200.0, task_class=warm, residency=("CN",),
            data_tags=frozenset({"personal"}), min_trust_level=verified,
        ), "Risk model: ~32 TFLOPS FP16 and 4 GB per stream (a 1/30 s share of work)"),
        TaskType("model-training", TaskSpec(
            2.88e9, _F16, 32.0, 256.0, AcceleratorNeed(_GPU, 4, 40.0), 20_000.0, 2_000.0,
            deadline_s=86_400.0, task_class=cold, budget=2_000.0, min_trust_level=verified,
        ), "Fine-tuning on 4 GPUs for ~2 hours; latency-insensitive, so it may go west"),
        TaskType("offline-render", TaskSpec(
            3.6e7, _F32, 64.0, 128.0, None, 5_000.0, 2_000.0, deadline_s=21_600.0,
            task_class=cold,
        ), "Offline rendering: ~5 TFLOPS FP32 for 2 hours, due within 6 hours"),
    )  # fmt: skip
    return tuple(replace(t, spec=replace(t.spec, task_type=t.name)) for t in types)


# Where the catalogue's tagged data may go: vehicle data stays off the national hubs (road-side
# work is near the road), personal data on the operator's and its audited partners' nodes.
_DATA_POLICIES = (
    DataPolicy("vehicle", regions=("CN",), tiers=frozenset({Tier.ONSITE, Tier.EDGE, Tier.REGION})),
    DataPolicy(
        "personal",
        regions=("CN",),
        owners=frozenset(owner for owner, trust in _OWNERS if trust >= TrustLevel.VERIFIED),
    ),
)


def _workload(b: _Builder, terminals: _Layer, hubs: int, seed: int) -> Workload:
    """Poisson streams entering at the terminal sites, weighted by a lognormal population."""
    weights = np.maximum(np.round(b.rng.lognormal(0.0, 0.6, len(terminals)), 3), 0.001)
    ingress = tuple(zip(terminals.site_ids, weights.tolist(), strict=True))
    t = len(terminals)
    rates = {
        "ar-frame": 2.0 * t,
        "v2x-fusion": 5.0 * t,
        "risk-score": 1.0 * t,
        "model-training": hubs / 3600.0,
        "offline-render": hubs / 600.0,
    }
    arrivals = tuple(
        Arrivals(name, rate_per_s=round(rate, 6), ingress=ingress) for name, rate in rates.items()
    )
    return Workload(_task_types(), arrivals, duration_s=3600.0, seed=seed)


def _services(nodes: list[Node], profile: Ints) -> tuple[Service, ...]:
    """CS-IDs of the hot task types, with instances on the first few edge boxes that suit them."""
    services = []
    for sid, name, task_type, host in (
        ("cs-ar", "AR/VR rendering", "ar-frame", "edge-gpu-t4"),
        ("cs-v2x", "V2X fusion", "v2x-fusion", "edge-npu-atlas"),
    ):
        hosts = islice(np.flatnonzero(profile == _PROFILE_INDEX[host]).tolist(), 8)
        instances = tuple(
            ServiceInstance(InstanceId(f"csci-{sid[3:]}-{k}"), nodes[i].id)
            for k, i in enumerate(hosts, 1)
        )
        services.append(Service(ServiceId(sid), name, task_type, instances))
    return tuple(services)


def _check(nodes: int, seed: int, name: str) -> None:
    if not 1 <= nodes <= MAX_NODES:
        raise ScenarioError(f"nodes must lie in [1, {MAX_NODES:,}]", path=("nodes",), value=nodes)
    if seed < 0:
        raise ScenarioError("seed must not be negative", path=("seed",), value=seed)
    if not _NAME.match(name):
        raise ScenarioError(
            "name must be 1-200 letters, digits or any of _.:@/+-", path=("name",), value=name
        )


def generate_scenario(nodes: int, seed: int = 0, name: str | None = None) -> Scenario:
    """A realistic tiered computing force network with exactly ``nodes`` compute nodes.

    Hubs, regions, edges and on-site sites hold 35/25/25/15 % of the nodes, about 25, 20, 12 and
    4 nodes a site (at most 8 hubs and 31 regions), and one terminal ingress site stands by each
    edge; tiny networks keep the upper tiers first (1 node: one hub). The same ``nodes`` and
    ``seed`` always give an equal scenario, and it dumps and loads back equal.

    Args:
        nodes: Number of compute nodes, 1 to 1,000,000.
        seed: Seed of numpy's ``default_rng``, non-negative.
        name: Scenario name; ``generated-{nodes}-s{seed}`` when None.

    Raises:
        ScenarioError: ``nodes``, ``seed`` or ``name`` is out of range.
    """
    name = f"generated-{nodes}-s{seed}" if name is None else name
    _check(nodes, seed, name)
    b = _Builder(np.random.default_rng(seed))
    per_tier = _split(nodes)
    up = _hubs(b, _site_count(_HUB_PLAN, per_tier[0]))
    hubs = up
    b.compute.append((hubs, _HUB_PLAN, per_tier[0]))
    weights = None
    if per_tier[1]:
        up = _regions(b, _site_count(_REGION_PLAN, per_tier[1]), hubs)
        b.compute.append((up, _REGION_PLAN, per_tier[1]))
        population = np.array([r[5] for r in _REGIONS[: len(up)]], dtype=np.float64)
        weights = population / population.sum()  # edges follow the people
    edges, onsite, onsite_parent = None, None, np.zeros(0, np.int64)
    if per_tier[2]:
        count = _site_count(_EDGE_PLAN, per_tier[2])
        edges, _ = _below(b, Tier.EDGE, count, up, km=(15.0, 250.0), weights=weights, dual=0.3)
        b.compute.append((edges, _EDGE_PLAN, per_tier[2]))
    if per_tier[3]:
        count = _site_count(_ONSITE_PLAN, per_tier[3])
        parents = up if edges is None else edges
        onsite, onsite_parent = _below(b, Tier.ONSITE, count, parents, km=(2.0, 30.0), cover=True)
        b.compute.append((onsite, _ONSITE_PLAN, per_tier[3]))
    if edges is None:  # too small for edges: one terminal by the lowest site there is
        edges, onsite = up.head(), None
    terminals = _terminals(b, edges, onsite, onsite_parent)
    node_list, profile = _nodes(b)
    compute_sites = sum(len(layer) for layer, _, _ in b.compute)
    return Scenario(
        name=name,
        topology=Topology(b.sites, node_list, b.elements, b.build_links(), _DATA_POLICIES),
        description=(
            f"Generated tiered computing force network: {nodes:,} nodes at {compute_sites:,} "
            f"compute sites and {len(terminals):,} terminal ingress site"
            f"{'s' if len(terminals) > 1 else ''} (seed {seed})."
        ),
        services=_services(node_list, profile),
        workload=_workload(b, terminals, len(hubs), seed),
        failures=(
            RandomFailures(FailureScope.NODES, mtbf_h=8_760.0, mttr_h=4.0, tier=Tier.ONSITE),
            RandomFailures(FailureScope.LINKS, mtbf_h=4_380.0, mttr_h=2.0),
        ),
        energy_profiles=dict(sorted(b.energy.items())),
    )
