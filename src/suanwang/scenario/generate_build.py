"""The generator's builder: one tier's sites as arrays, and the records collected top down.

``_Layer`` holds a tier's site ids, attachment vertices and positions; ``_Builder`` draws
positions near a parent, makes the site records (energy by grid and tier) and the links
(latency = per-tier overhead + the fibre delay of the great-circle distance, ``_km``), all
from one seeded ``numpy`` generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from suanwang.model import (
    DEFAULT_ROUTING_FACTOR,
    FIBRE_US_PER_KM,
    EnergyProfile,
    GeoPosition,
    Link,
    NetworkElement,
    Site,
    Tier,
)
from suanwang.scenario.generate_catalogue import (
    _EARTH_RADIUS_KM,
    _GRIDS,
    _KM_PER_DEG,
    _LAN,
    _LAT,
    _LON,
    _PUE,
    Floats,
    Ints,
    _LinkPlan,
    _TierPlan,
)


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
