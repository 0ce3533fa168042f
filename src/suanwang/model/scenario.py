"""A scenario: everything needed to run or simulate a computing force network."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from suanwang.model.failures import Failure
from suanwang.model.service import Service
from suanwang.model.site import EnergyProfile
from suanwang.model.topology import Topology
from suanwang.model.workload import Workload


@dataclass(frozen=True, slots=True)
class Scenario:
    """Topology, service catalogue, workload, failures and named energy profiles.

    Cross-references (a service instance on an unknown node, an arrival of an unknown task type)
    are checked where scenarios are read (``suanwang.scenario``), so that each error can name the
    file and field it comes from.

    Attributes:
        name: Short name (``metro-edge``).
        description: What the scenario stands for.
        topology: Sites, nodes, network elements and links.
        services: Service catalogue (CS-IDs and their instances).
        workload: Task types and arrivals.
        failures: Scripted and random failures.
        energy_profiles: Named energy profiles that sites refer to.
    """

    name: str
    topology: Topology
    description: str = ""
    services: tuple[Service, ...] = ()
    workload: Workload = field(default_factory=Workload)
    failures: tuple[Failure, ...] = ()
    energy_profiles: Mapping[str, EnergyProfile] = field(default_factory=dict)
