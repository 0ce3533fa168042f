"""The documents of the HTTP API as typed dictionaries: what the server answers, key for key.

They describe the JSON as it arrives (no conversion, no copies): a ``Task`` is the decoded
``TaskOut``; times are POSIX seconds, units are in the names. Only the fields most programs
read are typed; the server may add others, which stay in the dictionary.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

TaskState = Literal[
    "pending", "scheduled", "running", "completed", "failed", "rejected", "cancelled"
]
NodeState = Literal["up", "draining", "down", "no-agent", "quarantined", "retired"]


class Accelerator(TypedDict):
    """Accelerators a task needs."""

    kind: str
    count: int
    min_mem_gib: float


class TaskSpec(TypedDict):
    """A task's demand as stored (``task_type`` names the catalogue type it came from)."""

    work_gflop: float
    precision: str
    cpu_cores: float
    mem_gib: float
    accelerator: Accelerator | None
    data_in_mb: float
    data_out_mb: float
    ingress_site: str | None
    latency_budget_ms: float | None
    deadline_s: float | None
    task_class: str
    task_type: str | None
    long_running: bool
    fixed_latency_ms: float


class Estimate(TypedDict):
    """Expected time, cost, energy and carbon of a placement."""

    network_ms: float
    queueing_ms: float
    compute_ms: float
    fixed_ms: float
    cost: float
    energy_kwh: float
    carbon_g: float


class Placement(TypedDict):
    """Where a task runs: node, path of vertex ids, links, reserved bandwidth, estimate."""

    task_id: str
    node_id: str
    path: list[str]
    segments: list[str]
    reserved_bandwidth_mbps: float
    estimate: Estimate
    instance_id: str | None


class Transition(TypedDict):
    """One step of a task's history."""

    from_state: TaskState | None
    to_state: TaskState
    at_s: float
    reason: str


class Task(TypedDict):
    """A task: its demand, state, placement and full history."""

    id: str
    tenant: str
    state: TaskState
    reason: str
    submitted_at_s: float
    spec: TaskSpec
    placement: Placement | None
    history: list[Transition]


class TaskPage(TypedDict):
    """One page of tasks; ``next_cursor`` is None on the last."""

    items: list[Task]
    next_cursor: str | None


class AcceleratorGroup(TypedDict):
    """Identical accelerator devices of a node."""

    kind: str
    model: str
    count: int
    mem_gib: float


class Node(TypedDict):
    """A compute node of the live topology and its state."""

    id: str
    site_id: str
    state: NodeState
    arch: str
    cpu_cores: int
    mem_gib: float
    accelerators: list[AcceleratorGroup]
    trust_level: str
    owner: str
    price_per_hour: float


class TopologyChange(TypedDict):
    """A runtime topology change as stored: its version, what it added or retired, who, when."""

    version: int
    kind: Literal["site", "node", "link", "service", "retire"]
    id: str
    who: str
    at_s: float
    body: dict[str, Any]
    enrol_token: str | None
    enrol_token_expires_at_s: float | None


class Retirement(TypedDict):
    """A node retired: it drains (``moving`` services began to move), then stays down."""

    id: str
    state: NodeState
    moving: int


class Site(TypedDict):
    """A site: tier, region, position, energy and its node count."""

    id: str
    tier: str
    name: str
    region: str
    lat_deg: float | None
    lon_deg: float | None
    pue: float
    carbon_g_per_kwh: float
    nodes: int


class Verdict(TypedDict):
    """Why one node was refused."""

    node_id: str
    plugin: str
    reason: str


class Explanation(TypedDict):
    """Where a task would go now and why there (``why_here``), or why nowhere (``refusals``)."""

    task: Task
    placeable: bool
    node_id: str | None
    placed_on: str | None
    placement: Placement | None
    code: str
    plugin: str
    refusal: str
    summary: str
    survivors: int
    rejected_by: dict[str, int]
    verdicts: list[Verdict]
    why_not: Verdict | None
    why_here: dict[str, Any] | None
    refusals: list[dict[str, Any]]


class TaskType(TypedDict):
    """A catalogue task type and the demand it gives a task."""

    name: str
    description: str
    spec: TaskSpec


class Catalogue(TypedDict):
    """The live scenario's catalogue task types."""

    scenario: str
    types: list[TaskType]


class Problem(TypedDict):
    """An error answer (RFC 9457 problem details); validation errors add ``errors``."""

    type: str
    title: str
    status: int
    detail: str
    errors: NotRequired[list[dict[str, str]]]
