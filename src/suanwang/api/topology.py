"""Response documents of the live topology: sites, nodes, links and services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from suanwang.model import (
    AcceleratorKind,
    Link,
    Node,
    Precision,
    Service,
    Site,
    Tier,
    TrustLevel,
)

State = Literal["up", "down"]
NodeState = Literal["up", "draining", "down", "no-agent", "quarantined", "retired"]


class SiteOut(BaseModel):
    """A site: tier, region, position, energy."""

    id: str
    tier: Tier
    name: str
    region: str
    lat_deg: float | None
    lon_deg: float | None
    pue: float
    carbon_g_per_kwh: float
    nodes: int

    @classmethod
    def of(cls, site: Site, nodes: int) -> SiteOut:
        """From the domain record and its node count."""
        return cls(
            id=site.id,
            tier=site.tier,
            name=site.name or site.id,
            region=site.region,
            lat_deg=None if site.geo is None else site.geo.lat_deg,
            lon_deg=None if site.geo is None else site.geo.lon_deg,
            pue=site.energy.pue,
            carbon_g_per_kwh=site.energy.carbon_g_per_kwh,
            nodes=nodes,
        )


class AcceleratorGroupOut(BaseModel):
    """Identical accelerator devices of a node."""

    kind: AcceleratorKind
    model: str
    count: int
    mem_gib: float


class NodeOut(BaseModel):
    """A compute node and whether it is up, draining (takes nothing new) or down."""

    id: str
    site_id: str
    state: NodeState
    arch: str
    cpu_cores: int
    mem_gib: float
    accelerators: list[AcceleratorGroupOut]
    trust_level: TrustLevel
    owner: str
    price_per_hour: float
    attestation: str = Field(
        default="unverified", description="Earned trust: unverified, attested or quarantined."
    )
    claimed_gflops: float = Field(default=0.0, description="Declared fp64 CPU peak, GFLOP/s.")
    measured_gflops: float | None = Field(
        default=None, description="The rate its last attestation measured, GFLOP/s."
    )

    @classmethod
    def of(
        cls, node: Node, state: NodeState, attested: tuple[str, float | None] = ("unverified", None)
    ) -> NodeOut:
        """From the domain record, with the node's earned trust and measured rate."""
        return cls(
            attestation=attested[0],
            claimed_gflops=node.cpu_peak_gflops.get(Precision.FP64, 0.0),
            measured_gflops=attested[1],
            id=node.id,
            site_id=node.site_id,
            state=state,
            arch=node.arch.value,
            cpu_cores=node.cpu_cores,
            mem_gib=node.mem_gib,
            accelerators=[
                AcceleratorGroupOut(kind=a.kind, model=a.model, count=a.count, mem_gib=a.mem_gib)
                for a in node.accelerators
            ],
            trust_level=node.trust_level,
            owner=node.owner,
            price_per_hour=node.price_per_hour,
        )


class LinkOut(BaseModel):
    """A link and whether it is up."""

    id: str
    a: str
    b: str
    state: State
    bandwidth_mbps: float
    latency_ms: float
    loss_ratio: float

    @classmethod
    def of(cls, link: Link, down: bool) -> LinkOut:
        """From the domain record."""
        return cls(
            id=link.id,
            a=link.a,
            b=link.b,
            state="down" if down else "up",
            bandwidth_mbps=link.bandwidth_mbps,
            latency_ms=link.latency_ms,
            loss_ratio=link.loss_ratio,
        )


class InstanceOut(BaseModel):
    """A service instance (CSCI-ID) on a node, and that node's state now."""

    id: str
    node_id: str
    node_state: str = Field(
        description="up, draining, down, no-agent, quarantined or retired: only an instance "
        "on an up node takes new requests"
    )


class ServiceOut(BaseModel):
    """A service (CS-ID) of the live scenario's catalogue with its instances."""

    id: str
    name: str
    task_type: str | None
    instances: list[InstanceOut]

    @classmethod
    def of(cls, service: Service, node_state: Callable[[str], str]) -> ServiceOut:
        """From the domain record and the live state of each node (``LiveNetwork.node_state``)."""
        return cls(
            id=service.id,
            name=service.name,
            task_type=service.task_type,
            instances=[
                InstanceOut(id=i.id, node_id=i.node_id, node_state=node_state(i.node_id))
                for i in service.instances
            ],
        )


class StateChangeIn(BaseModel):
    """Why a node or link goes down (or up)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="set by an operator", min_length=1, max_length=2000)


class StateChangeOut(BaseModel):
    """The outcome of a state change: tasks moved elsewhere.

    For a drain, the long-running services that began to move make-before-break.
    """

    id: str
    state: NodeState
    replaced_tasks: int


class NodeMetricsOut(BaseModel):
    """The latest verified metrics of a node and how old they are."""

    node_id: str
    age_s: float | None
    values: dict[str, float]
