"""Replication policy of 东数西存 (east data, west storage): cold datasets get a replica west.

The rule, applied to every dataset tagged ``cold`` (``COLD_TAG``):

* "west" is the hub-tier sites (``Tier.HUB``: the national hubs where power is cheap and clean),
  ranked by electricity price (``EnergyProfile.price_per_kwh``), then grid carbon intensity
  (``carbon_g_per_kwh``), then id, so that the choice is the same on every run;
* a cold dataset already holding a replica at a hub is left alone;
* otherwise it gets one replica at the first-ranked hub whose ``storage_gb`` still has room for
  it (a hub without ``storage_gb`` always has room), counting the replicas this pass has
  already added; a cold dataset no hub has room for is reported, not placed.

Existing replicas are never moved or dropped: the east copies keep serving the hot work next to
users, the west copy serves batch work and survives the east site.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from suanwang.model import Dataset, Site, Tier, Topology, stored_gb

COLD_TAG = "cold"
"""The dataset tag the policy acts on."""


@dataclass(frozen=True, slots=True)
class Replication:
    """What the policy did.

    Attributes:
        topology: The topology with the new replicas (the input itself when none was added).
        added: (dataset id, hub site id) of each replica added, in dataset order.
        unplaced: Ids of cold datasets that no hub had room for.
    """

    topology: Topology
    added: tuple[tuple[str, str], ...]
    unplaced: tuple[str, ...]


def west_sites(topology: Topology) -> list[Site]:
    """The hub-tier sites in the policy's order (price, then carbon, then id)."""
    hubs = [site for site in topology.sites.values() if site.tier is Tier.HUB]
    return sorted(hubs, key=lambda s: (s.energy.price_per_kwh, s.energy.carbon_g_per_kwh, s.id))


def replicate_cold_west(topology: Topology) -> Replication:
    """Apply the rule of the module docstring to ``topology``'s datasets."""
    hubs = west_sites(topology)
    hub_ids = {site.id for site in hubs}
    datasets = list(topology.datasets.values())
    free_gb = {
        site.id: None if site.storage_gb is None else site.storage_gb - stored_gb(datasets, site.id)
        for site in hubs
    }
    added: list[tuple[str, str]] = []
    unplaced: list[str] = []
    for i, dataset in enumerate(datasets):
        if COLD_TAG not in dataset.tags or hub_ids.intersection(dataset.sites):
            continue
        target = next(
            (
                site.id
                for site in hubs
                if (room := free_gb[site.id]) is None or room >= dataset.size_gb - 1e-9
            ),
            None,
        )
        if target is None:
            unplaced.append(dataset.id)
            continue
        room = free_gb[target]
        if room is not None:
            free_gb[target] = room - dataset.size_gb
        datasets[i] = dataclasses.replace(dataset, sites=(*dataset.sites, target))
        added.append((dataset.id, target))
    if not added:
        return Replication(topology, (), tuple(unplaced))
    return Replication(_with_datasets(topology, datasets), tuple(added), tuple(unplaced))


def _with_datasets(topology: Topology, datasets: list[Dataset]) -> Topology:
    return Topology(
        topology.sites.values(),
        topology.nodes.values(),
        topology.elements.values(),
        topology.links.values(),
        topology.data_policies.values(),
        datasets=datasets,
    )
