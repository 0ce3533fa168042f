"""The cold-west replication rule: a cold dataset gets one replica at the cheapest hub with room."""

from __future__ import annotations

from suanwang.model import Dataset, EnergyProfile, Site, Tier, Topology
from suanwang.scheduling.replication import replicate_cold_west, west_sites


def _topology(*datasets: Dataset, gansu_gb: float | None = 10.0) -> Topology:
    sites = [
        Site("BJ", Tier.REGION, region="CN-BJ", energy=EnergyProfile(price_per_kwh=0.9)),
        # Two western hubs: Gansu cheaper than Guizhou; Ningxia as cheap as Gansu, dirtier.
        Site("GZ", Tier.HUB, region="CN-GZ", energy=EnergyProfile(price_per_kwh=0.4)),
        Site(
            "GS",
            Tier.HUB,
            region="CN-GS",
            energy=EnergyProfile(price_per_kwh=0.3, carbon_g_per_kwh=100.0),
            storage_gb=gansu_gb,
        ),
        Site(
            "NX",
            Tier.HUB,
            region="CN-NX",
            energy=EnergyProfile(price_per_kwh=0.3, carbon_g_per_kwh=400.0),
            storage_gb=1.0,
        ),
    ]
    return Topology(sites, datasets=datasets)


def test_hubs_rank_by_price_then_carbon() -> None:
    assert [site.id for site in west_sites(_topology())] == ["GS", "NX", "GZ"]


def test_cold_data_gets_a_west_replica_and_hot_data_stays() -> None:
    archive = Dataset("archive", 4_000.0, ("BJ",), frozenset({"cold"}))
    live = Dataset("live", 4_000.0, ("BJ",), frozenset({"hot"}))
    result = replicate_cold_west(_topology(archive, live))
    assert result.added == (("archive", "GS"),)
    assert result.topology.datasets["archive"].sites == ("BJ", "GS")
    assert result.topology.datasets["live"].sites == ("BJ",)


def test_a_full_hub_passes_to_the_next_and_replicas_added_count() -> None:
    # GS holds 10 GB: the first two 4 GB datasets fit, the third goes on to NX (1 GB: too
    # small) and then GZ (not limited).
    cold = [Dataset(f"c{i}", 4_000.0, ("BJ",), frozenset({"cold"})) for i in range(3)]
    result = replicate_cold_west(_topology(*cold))
    assert result.added == (("c0", "GS"), ("c1", "GS"), ("c2", "GZ"))


def test_cold_data_already_west_is_left_alone_and_no_room_is_reported() -> None:
    west = Dataset("west", 1.0, ("BJ", "GZ"), frozenset({"cold"}))
    same = _topology(west)
    assert replicate_cold_west(same).topology is same
    huge = Dataset("huge", 50_000.0, ("BJ",), frozenset({"cold"}))
    only_small_hubs = Topology(
        [site for site in _topology().sites.values() if site.id != "GZ"], datasets=[huge]
    )
    result = replicate_cold_west(only_small_hubs)
    assert (result.added, result.unplaced) == ((), ("huge",))
