"""The scenario file format, version 1, as pydantic models.

These models are the edge where hand-written YAML and JSON meet the domain model: they check
types, ranges and unknown keys field by field. Cross-references (a link to an unknown site) are
checked in ``suanwang.scenario.convert``. ``suanwang scenario schema`` exports the JSON Schema of
``ScenarioDoc`` for editors.

Conveniences for people who write scenarios by hand (all expanded on load, so a dumped scenario
states everything explicitly):

* ``node_profiles`` name a hardware template; a node entry with ``profile: NAME`` takes its
  fields from it and may override any of them.
* a node entry with ``count: N`` stands for N identical nodes ``ID-1`` ... ``ID-N``.
* a site's ``energy`` is either the name of an entry of ``energy_profiles`` or a profile inline.
* a link without ``latency_ms`` gets the fibre latency of the great-circle distance between its
  ends (5 µs per km times ``routing_factor``); a link without ``id`` is called ``A--B``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
)

from suanwang.model import (
    AcceleratorKind,
    Architecture,
    ArrivalKind,
    ElementKind,
    FailureScope,
    Precision,
    TaskClass,
    Tier,
    TrustLevel,
    region_pattern_problem,
)
from suanwang.model.policy import check_data_tag

FORMAT_VERSION = 1

Id = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:@/+-]+$")]
# Numbers are strict: a file that says "4" or true where a number belongs is wrong, not meant.
# Floats must be finite (the model config refuses inf and nan), integers fit in 64 bits with
# room to spare, so no sum or product of them can overflow a numpy array.
Number = Annotated[float, Strict()]
NonNegative = Annotated[float, Strict(), Field(ge=0)]
Positive = Annotated[float, Strict(), Field(gt=0)]
Count = Annotated[int, Strict(), Field(ge=0, le=10_000_000)]
MAX_SEED = 2**63 - 1
Rates = dict[Precision, NonNegative]
HourlyValues = Annotated[list[NonNegative], Field(min_length=24, max_length=24)]


def _exactly_int(value: object) -> object:
    """Refuse ``true`` and ``1.0`` where an integer is meant (both equal 1 in Python)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"should be the integer {FORMAT_VERSION}")
    return value


def _region_pattern(pattern: str) -> str:
    problem = region_pattern_problem(pattern)
    if problem is not None:
        raise ValueError(problem)
    return pattern


RegionPattern = Annotated[str, AfterValidator(_region_pattern)]
"""Region codes' segments split on '-' (``CN``, ``CN-GD``); matched by hierarchy."""
DataTag = Annotated[str, AfterValidator(check_data_tag)]


class _Doc(BaseModel):
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, use_enum_values=False, allow_inf_nan=False
    )


class GeoDoc(_Doc):
    """Geographic position in decimal degrees."""

    lat_deg: Annotated[Number, Field(ge=-90, le=90)]
    lon_deg: Annotated[Number, Field(ge=-180, le=180)]


class EnergyDoc(_Doc):
    """Energy profile: PUE, grid carbon intensity (optionally hourly) and power price."""

    pue: Annotated[Number, Field(ge=1.0, le=5.0)] = 1.5
    carbon_g_per_kwh: NonNegative = 550.0
    carbon_profile_g_per_kwh: HourlyValues | None = None
    price_per_kwh: NonNegative = 0.6


class SiteDoc(_Doc):
    """A site: a place holding compute or where users attach."""

    id: Id
    tier: Tier
    name: str = ""
    region: str = ""
    geo: GeoDoc | None = None
    energy: Annotated[str, Field(min_length=1)] | EnergyDoc | None = Field(
        default=None, description="Name of an energy profile, or a profile inline"
    )
    labels: dict[str, str] = Field(default_factory=dict)
    storage_gb: NonNegative | None = Field(
        default=None, description="Storage for dataset replicas in GB; left out: not limited"
    )


class DatasetDoc(_Doc):
    """A dataset: its size and the sites holding a replica (each replica takes storage)."""

    id: Id
    size_mb: NonNegative
    sites: Annotated[list[Id], Field(min_length=1)]
    tags: list[DataTag] = Field(default_factory=list)


class AcceleratorDoc(_Doc):
    """A group of identical accelerator devices; rates are per device."""

    kind: AcceleratorKind
    model: Annotated[str, Field(min_length=1)]
    count: Annotated[Count, Field(ge=1)] = 1
    peak_gflops: Rates = Field(default_factory=dict)
    mem_gib: NonNegative = 0.0
    power_w: NonNegative = 0.0


class NodeFields(_Doc):
    """Hardware and commercial fields shared by node entries and node profiles."""

    arch: Architecture | None = None
    cpu_cores: Count | None = None
    mem_gib: NonNegative | None = None
    storage_gib: NonNegative | None = None
    cpu_peak_gflops: Rates | None = None
    accelerators: list[AcceleratorDoc] | None = None
    idle_power_w: NonNegative | None = None
    peak_power_w: NonNegative | None = None
    trust_level: TrustLevel | None = None
    owner: str | None = None
    price_per_hour: NonNegative | None = None
    labels: dict[str, str] | None = None


class NodeDoc(NodeFields):
    """A compute node (or ``count`` identical ones) at a site."""

    id: Id
    site: Id
    profile: str | None = Field(default=None, description="Name of an entry of node_profiles")
    count: Annotated[int, Strict(), Field(ge=1, le=1_000_000)] = 1


class InNetworkComputeDoc(_Doc):
    """Compute offered by a network element itself."""

    cpu_cores: Count
    mem_gib: NonNegative
    peak_gflops: NonNegative


class ElementDoc(_Doc):
    """A router, switch or gateway."""

    id: Id
    kind: ElementKind
    site: Id | None = None
    geo: GeoDoc | None = None
    compute: InNetworkComputeDoc | None = None


class LinkDoc(_Doc):
    """A bidirectional link between two sites or network elements; figures are per direction."""

    id: Id | None = None
    a: Id
    b: Id
    bandwidth_mbps: Positive
    latency_ms: NonNegative | None = Field(
        default=None, description="One-way latency; from the ends' distance when absent"
    )
    routing_factor: Annotated[Number, Field(ge=1.0, le=10.0)] | None = None
    loss_ratio: Annotated[Number, Field(ge=0.0, lt=1.0)] = 0.0
    jitter_ms: NonNegative = 0.0
    cost_per_gb: NonNegative = 0.0
    slice_mbps: NonNegative = 0.0


class InstanceDoc(_Doc):
    """A service instance (CSCI-ID) on a node."""

    id: Id
    node: Id
    ready_s: NonNegative = 0.0


class ServiceDoc(_Doc):
    """A service (CS-ID) and its instances."""

    id: Id
    name: str = ""
    task_type: str | None = None
    instances: list[InstanceDoc] = Field(default_factory=list)


class AcceleratorNeedDoc(_Doc):
    """Accelerators a task needs on one node."""

    kind: AcceleratorKind
    count: Annotated[Count, Field(ge=1)] = 1
    min_mem_gib: NonNegative = 0.0


class TaskTypeDoc(_Doc):
    """A kind of request in the workload catalogue."""

    name: Id
    description: str = ""
    task_class: TaskClass = Field(default=TaskClass.WARM, alias="class")
    work_gflop: NonNegative
    precision: Precision = Precision.FP32
    cpu_cores: NonNegative = 1.0
    mem_gib: NonNegative = 0.5
    accelerator: AcceleratorNeedDoc | None = None
    data_in_mb: NonNegative = 0.0
    data_out_mb: NonNegative = 0.0
    latency_budget_ms: Positive | None = None
    deadline_s: Positive | None = None
    budget: Positive | None = None
    residency: list[RegionPattern] = Field(default_factory=list)
    data_tags: list[DataTag] = Field(
        default_factory=list, description="Tags on the data; each needs an entry of data_policies"
    )
    min_trust_level: TrustLevel = TrustLevel.UNTRUSTED
    service: Id | None = None
    datasets: list[Id] = Field(
        default_factory=list, description="Ids of entries of datasets the task reads"
    )
    fixed_latency_ms: NonNegative = Field(
        default=0.0,
        description="Time outside the network and the node (sensor, display, terminal) that "
        "counts against the latency budget",
    )


class DataPolicyDoc(_Doc):
    """Where data carrying one tag may be processed; a field left out leaves that aspect free."""

    regions: list[RegionPattern] = Field(
        default_factory=list, description="Region patterns (hierarchical) of allowed sites"
    )
    tiers: list[Tier] = Field(default_factory=list, description="Allowed site tiers")
    owners: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="Allowed node owners"
    )


class ArrivalsDoc(_Doc):
    """A stream of requests of one task type."""

    task_type: Id
    kind: ArrivalKind = ArrivalKind.POISSON
    rate_per_s: NonNegative = 1.0
    ingress: dict[str, Positive] = Field(
        default_factory=dict, description="Ingress site ids with their weights"
    )
    hourly_multipliers: HourlyValues | None = None
    burst_every_s: Positive | None = None
    burst_duration_s: Positive | None = None
    burst_factor: Positive | None = None
    trace_file: str | None = None


class WorkloadDoc(_Doc):
    """Task types and the arrivals that draw from them."""

    duration_s: Positive = 3600.0
    seed: Annotated[int, Strict(), Field(ge=0, le=MAX_SEED)] = 0
    task_types: list[TaskTypeDoc] = Field(default_factory=list)
    arrivals: list[ArrivalsDoc] = Field(default_factory=list)


class ScriptedFailureDoc(_Doc):
    """A given element fails at a given time (and is repaired after a while, or never)."""

    target: Id
    at_s: NonNegative
    repair_after_s: Positive | None = None


class RandomFailuresDoc(_Doc):
    """Elements in scope fail and recover with exponential times."""

    scope: FailureScope
    mtbf_h: Positive
    mttr_h: Positive
    tier: Tier | None = None


def _failure_tag(value: object) -> str:
    """Entries with a ``scope`` are random failures; all others are scripted."""
    if isinstance(value, dict):
        return "random" if "scope" in value else "scripted"
    return "random" if isinstance(value, RandomFailuresDoc) else "scripted"


FailureDoc = Annotated[
    Annotated[ScriptedFailureDoc, Tag("scripted")] | Annotated[RandomFailuresDoc, Tag("random")],
    Discriminator(_failure_tag),
]


class ScenarioDoc(_Doc):
    """A suanwang scenario file, format version 1."""

    version: Annotated[Literal[1], BeforeValidator(_exactly_int)] = Field(
        description="Scenario format version; always 1"
    )
    name: Id
    description: str = ""
    energy_profiles: dict[str, EnergyDoc] = Field(default_factory=dict)
    node_profiles: dict[str, NodeFields] = Field(default_factory=dict)
    sites: list[SiteDoc] = Field(default_factory=list)
    nodes: list[NodeDoc] = Field(default_factory=list)
    elements: list[ElementDoc] = Field(default_factory=list)
    links: list[LinkDoc] = Field(default_factory=list)
    services: list[ServiceDoc] = Field(default_factory=list)
    datasets: list[DatasetDoc] = Field(default_factory=list)
    data_policies: dict[DataTag, DataPolicyDoc] = Field(
        default_factory=dict, description="Data tag -> where data carrying it may be processed"
    )
    workload: WorkloadDoc = Field(default_factory=WorkloadDoc)
    failures: list[FailureDoc] = Field(default_factory=list)
