"""The generator's catalogue: hubs, regions, grids, owners, hardware profiles and tier plans.

Pure data for ``generate``: the national hubs and provincial regions with their positions,
power grids and populations, the energy figures per grid and tier, the node owners and their
trust, the hardware profiles with their accelerators and prices, how many sites and nodes a
tier takes (``_TierPlan``), and the latency, bandwidth and loss of each kind of link
(``_LinkPlan``). Nothing here draws random numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanwang.model import (
    Accelerator,
    AcceleratorKind,
    Architecture,
    EnergyProfile,
    Precision,
    Tier,
    TrustLevel,
)

MAX_NODES = 1_000_000
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
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
