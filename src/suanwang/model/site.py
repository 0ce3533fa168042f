"""Sites: the places where compute lives and where users attach."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from suanwang.model.enums import Tier

HOURS_PER_DAY = 24
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class GeoPosition:
    """A point on the globe in decimal degrees (WGS 84)."""

    lat_deg: float
    lon_deg: float

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat_deg <= 90.0:
            raise ValueError(f"lat_deg must lie in [-90, 90], got {self.lat_deg}")
        if not -180.0 <= self.lon_deg <= 180.0:
            raise ValueError(f"lon_deg must lie in [-180, 180], got {self.lon_deg}")

    def distance_km(self, other: GeoPosition) -> float:
        """Great-circle (haversine) distance to ``other`` in kilometres."""
        lat1, lat2 = math.radians(self.lat_deg), math.radians(other.lat_deg)
        dlat = lat2 - lat1
        dlon = math.radians(other.lon_deg - self.lon_deg)
        h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
        return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class EnergyProfile:
    """Energy facts of a site: how efficient, how clean and how dear its power is.

    Attributes:
        name: Profile name, so that many sites can share one (``""`` for an inline profile).
        pue: Power usage effectiveness (facility power / IT power), at least 1.0.
        carbon_g_per_kwh: Mean grid carbon intensity in grams CO2e per kWh.
        carbon_profile_g_per_kwh: Optional 24 hourly intensities (local hour 0..23); when given,
            it overrides ``carbon_g_per_kwh`` for the hour at hand.
        price_per_kwh: Electricity price in currency units per kWh.
    """

    name: str = ""
    pue: float = 1.5
    carbon_g_per_kwh: float = 550.0
    carbon_profile_g_per_kwh: tuple[float, ...] | None = None
    price_per_kwh: float = 0.6

    def __post_init__(self) -> None:
        if self.pue < 1.0:
            raise ValueError(f"pue must be at least 1.0, got {self.pue}")
        if self.carbon_g_per_kwh < 0 or self.price_per_kwh < 0:
            raise ValueError("carbon_g_per_kwh and price_per_kwh must not be negative")
        profile = self.carbon_profile_g_per_kwh
        if profile is not None and len(profile) != HOURS_PER_DAY:
            raise ValueError(f"carbon_profile_g_per_kwh needs 24 values, got {len(profile)}")

    def carbon_at_hour(self, hour: int) -> float:
        """Grid carbon intensity (g/kWh) at local hour ``hour`` (taken modulo 24)."""
        if self.carbon_profile_g_per_kwh is None:
            return self.carbon_g_per_kwh
        return self.carbon_profile_g_per_kwh[hour % HOURS_PER_DAY]


@dataclass(frozen=True, slots=True)
class Site:
    """A place that holds compute nodes or where users attach (hub, region, edge, onsite, terminal).

    Sites are the vertices of the routing graph together with network elements; nodes at one
    site share its LAN, so the network distance between two nodes of one site is zero.

    Attributes:
        id: Unique id within a topology.
        tier: Tier of the site.
        name: Human name (defaults to the id).
        region: Region code (for residency tags), e.g. ``CN-GZ``.
        geo: Geographic position, when known.
        energy: Energy profile (PUE, carbon, price).
        labels: Free-form key/value labels.
        storage_gb: Storage for dataset replicas, in GB; None: not limited (not modelled).
    """

    id: str
    tier: Tier
    name: str = ""
    region: str = ""
    geo: GeoPosition | None = None
    energy: EnergyProfile = field(default_factory=EnergyProfile)
    labels: tuple[tuple[str, str], ...] = ()
    storage_gb: float | None = None

    def __post_init__(self) -> None:
        storage = self.storage_gb
        if storage is not None and not (math.isfinite(storage) and storage >= 0):
            raise ValueError(f"site {self.id!r}: storage_gb must be finite, >= 0, got {storage}")
