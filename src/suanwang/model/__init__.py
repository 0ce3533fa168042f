"""Domain model of a computing force network: plain, frozen records and their invariants.

Depends on the standard library and numpy only. Everything above builds on these names; see
DESIGN.md §2 for the glossary.
"""

from suanwang.model.dataset import MB_PER_GB, Dataset, stored_gb
from suanwang.model.enums import (
    AcceleratorKind,
    Architecture,
    ElementKind,
    Precision,
    TaskClass,
    Tier,
    TrustLevel,
)
from suanwang.model.failures import Failure, FailureScope, RandomFailures, ScriptedFailure
from suanwang.model.link import (
    DEFAULT_ROUTING_FACTOR,
    FIBRE_US_PER_KM,
    InNetworkCompute,
    Link,
    NetworkElement,
    fibre_latency_ms,
)
from suanwang.model.node import Accelerator, Node
from suanwang.model.placement import Estimate, Placement
from suanwang.model.policy import (
    DataPolicy,
    check_region_pattern,
    region_pattern_problem,
    region_within,
)
from suanwang.model.scenario import Scenario
from suanwang.model.service import InstanceId, Service, ServiceId, ServiceInstance
from suanwang.model.site import EnergyProfile, GeoPosition, Site
from suanwang.model.task import (
    TRANSITIONS,
    AcceleratorNeed,
    IllegalTransitionError,
    Task,
    TaskSpec,
    TaskState,
    Transition,
)
from suanwang.model.topology import (
    ACCELERATOR_KINDS,
    PRECISIONS,
    Topology,
    TopologyArrays,
    TopologyError,
)
from suanwang.model.workload import ArrivalKind, Arrivals, TaskType, Workload

__all__ = [
    "ACCELERATOR_KINDS",
    "DEFAULT_ROUTING_FACTOR",
    "FIBRE_US_PER_KM",
    "MB_PER_GB",
    "PRECISIONS",
    "TRANSITIONS",
    "Accelerator",
    "AcceleratorKind",
    "AcceleratorNeed",
    "Architecture",
    "ArrivalKind",
    "Arrivals",
    "DataPolicy",
    "Dataset",
    "ElementKind",
    "EnergyProfile",
    "Estimate",
    "Failure",
    "FailureScope",
    "GeoPosition",
    "IllegalTransitionError",
    "InNetworkCompute",
    "InstanceId",
    "Link",
    "NetworkElement",
    "Node",
    "Placement",
    "Precision",
    "RandomFailures",
    "Scenario",
    "ScriptedFailure",
    "Service",
    "ServiceId",
    "ServiceInstance",
    "Site",
    "Task",
    "TaskClass",
    "TaskSpec",
    "TaskState",
    "TaskType",
    "Tier",
    "Topology",
    "TopologyArrays",
    "TopologyError",
    "Transition",
    "TrustLevel",
    "Workload",
    "check_region_pattern",
    "fibre_latency_ms",
    "region_pattern_problem",
    "region_within",
    "stored_gb",
]
