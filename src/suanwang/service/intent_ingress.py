"""Where a region-only intent's users enter: the live topology's sites in its regions.

An intent's coverage names regions, sites, or both (``scenario.intent.schema``). The translation
makes coverage sites the replicas' ingress sites; it does not know the topology, so an intent
that names only regions leaves its tasks without an ingress, which the scheduler refuses ("the
task names no ingress site"). Here those tasks get, in turn, the live sites lying in the
coverage regions (``model.policy.region_within``), those of the tier nearest users first
(terminal, then onsite, edge, ...): users of a region attach at its lowest tier. The choice is
one more derivation, with its rule.
"""

from __future__ import annotations

import dataclasses

from suanwang.model import Topology
from suanwang.model.policy import region_within
from suanwang.scenario.intent import Derivation, Translation


def with_ingress(translation: Translation, topology: Topology) -> Translation:
    """``translation`` with an ingress site on every spec (itself when each has one).

    Raises:
        ValueError: no site of ``topology`` lies in the coverage regions (named).
    """
    if all(spec.ingress_site is not None for spec in translation.specs):
        return translation
    regions = translation.intent.coverage.regions
    inside = [
        site
        for site in topology.sites.values()
        if any(region_within(site.region, region) for region in regions)
    ]
    if not inside:
        raise ValueError(
            f"coverage.regions: no site of the live topology lies in {', '.join(regions)}"
        )
    lowest = min((site.tier for site in inside), key=lambda tier: tier.rank)
    sites = sorted(site.id for site in inside if site.tier is lowest)
    specs = tuple(
        spec
        if spec.ingress_site is not None
        else dataclasses.replace(spec, ingress_site=sites[i % len(sites)])
        for i, spec in enumerate(translation.specs)
    )
    rule = f"coverage.regions' live sites of the tier nearest users ({lowest.value}), in turn"
    note = Derivation("ingress sites", ", ".join(sites), rule)
    return dataclasses.replace(
        translation, specs=specs, derivations=(*translation.derivations, note)
    )
