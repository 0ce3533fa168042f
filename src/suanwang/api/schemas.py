"""The API's request and response documents (pydantic), and their conversion to domain records.

Inputs are strict: unknown fields, NaN and infinities are refused; numbers must be JSON numbers
and booleans JSON booleans (``"1"`` and ``true`` are no ``work_gflop``, ``1`` and ``"true"`` no
``long_running``: pydantic's strict mode per field, so that enum values still read from their
JSON strings); numbers have bounds that keep every later computation finite, and strings have
a length limit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)

from suanwang.control.stores import MAX_KEY_CHARS, AuditEntry, Principal, Role
from suanwang.model import (
    AcceleratorKind,
    AcceleratorNeed,
    Precision,
    Task,
    TaskClass,
    TaskSpec,
    TaskState,
    TrustLevel,
    Workload,
    region_pattern_problem,
)
from suanwang.model.policy import check_data_tag
from suanwang.model.task import MAX_INPUTS

Name = Annotated[str, Field(min_length=1, max_length=MAX_KEY_CHARS)]
Number = Annotated[float, Strict()]
"""A JSON number (an integer is one too), never a string or a boolean."""
Count = Annotated[int, Strict()]
"""A JSON integer, never a float, string or boolean."""
Flag = Annotated[bool, Strict()]
"""A JSON boolean, never 0/1 or a string."""


def _integer_only(value: Any) -> Any:
    # An integer enum in lax mode would take "1", 1.0 and true as well.
    if type(value) is not int and not isinstance(value, TrustLevel):
        raise ValueError("Input should be a valid integer")
    return value


TrustIn = Annotated[TrustLevel, BeforeValidator(_integer_only)]
"""A trust level as its JSON integer."""
Amount = Annotated[Number, Field(ge=0, le=1e15)]
Positive = Annotated[Number, Field(gt=0, le=1e15)]


def _region_pattern(pattern: str) -> str:
    problem = region_pattern_problem(pattern)
    if problem is not None:
        raise ValueError(problem)
    return pattern


RegionPattern = Annotated[Name, AfterValidator(_region_pattern)]
"""A residency pattern: region segments split on '-' (``CN``, ``CN-GD``), matched by hierarchy."""
DataTag = Annotated[Name, AfterValidator(check_data_tag)]
Digest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A SHA-256 digest as the object store names objects: 64 lowercase hex digits."""


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class AcceleratorIn(_In):
    """Accelerators a task needs on one node."""

    kind: AcceleratorKind
    count: Count = Field(default=1, ge=1, le=1024)
    min_mem_gib: Amount = 0.0


class TaskSpecIn(_In):
    """A task to run.

    Fields left out come from the catalogue type named by ``task_type`` (when the live
    scenario has one by that name), else from the defaults shown.
    """

    work_gflop: Amount | None = Field(
        default=None, description="Work in 10^9 operations; required unless task_type gives it."
    )
    precision: Precision = Precision.FP32
    cpu_cores: Number = Field(default=1.0, ge=0, le=1e6)
    mem_gib: Number = Field(default=0.5, ge=0, le=1e9)
    accelerator: AcceleratorIn | None = None
    data_in_mb: Amount = 0.0
    data_out_mb: Amount = 0.0
    ingress_site: Name | None = None
    latency_budget_ms: Positive | None = None
    deadline_s: Positive | None = None
    task_class: TaskClass = TaskClass.WARM
    budget: Positive | None = None
    residency: list[RegionPattern] = Field(default_factory=list, max_length=64)
    data_tags: list[DataTag] = Field(
        default_factory=list,
        max_length=64,
        description="Tags on the data; a tag the network has no data policy for is rejected.",
    )
    min_trust_level: TrustIn = TrustLevel.UNTRUSTED
    affinity_key: Name | None = None
    task_type: Name | None = None
    service_id: Name | None = None
    long_running: Flag = Field(
        default=False,
        description="A long-running service: moved make-before-break when its node drains.",
    )
    fixed_latency_ms: Amount = Field(
        default=0.0,
        description="Time outside the network and the node (sensor, display, terminal) that "
        "counts against the latency budget.",
    )
    artefact: Digest | None = Field(
        default=None,
        description="Digest of the tenant's artefact to run (POST /v1/artefacts answers it).",
    )
    entry: Name | None = Field(
        default=None, description="'module:function' to call instead of the artefact's entry."
    )
    inputs: list[Digest] = Field(
        default_factory=list,
        max_length=MAX_INPUTS,
        description="Digests of the tenant's objects staged to the node before the run.",
    )
    datasets: list[Name] = Field(
        default_factory=list,
        max_length=MAX_INPUTS,
        description="Ids of the network's datasets the task reads; an unknown id is rejected.",
    )

    def to_spec(self, workload: Workload) -> TaskSpec:
        """The domain spec: the catalogue type's spec with the fields given here on top.

        Raises:
            ValueError: no work was given and no catalogue type supplies it.
        """
        base = None
        if self.task_type is not None:
            base = next((t.spec for t in workload.task_types if t.name == self.task_type), None)
        if base is None:
            if self.work_gflop is None:
                raise ValueError("work_gflop is required unless task_type names a catalogue type")
            return TaskSpec(**self._fields(type(self).model_fields))
        given = set(self.model_fields_set)
        if self.work_gflop is None:
            given.discard("work_gflop")
        return dataclasses.replace(base, **self._fields(given))

    def _fields(self, names: Iterable[str]) -> dict[str, Any]:
        """The named fields as ``TaskSpec`` arguments."""
        out: dict[str, Any] = {name: getattr(self, name) for name in names}
        if out.get("accelerator") is not None:
            a = self.accelerator
            assert a is not None
            out["accelerator"] = AcceleratorNeed(a.kind, a.count, a.min_mem_gib)
        if "residency" in out:
            out["residency"] = tuple(out["residency"])
        if "data_tags" in out:
            out["data_tags"] = frozenset(out["data_tags"])
        if "inputs" in out:
            out["inputs"] = tuple(out["inputs"])
        if "datasets" in out:
            out["datasets"] = tuple(out["datasets"])
        return out


class AcceleratorOut(BaseModel):
    """Accelerators a task needs."""

    kind: AcceleratorKind
    count: int
    min_mem_gib: float


class TaskSpecOut(BaseModel):
    """A task's demand as stored."""

    work_gflop: float
    precision: Precision
    cpu_cores: float
    mem_gib: float
    accelerator: AcceleratorOut | None
    data_in_mb: float
    data_out_mb: float
    ingress_site: str | None
    latency_budget_ms: float | None
    deadline_s: float | None
    task_class: TaskClass
    budget: float | None
    residency: list[str]
    data_tags: Annotated[list[str], BeforeValidator(sorted)]
    min_trust_level: TrustLevel
    affinity_key: str | None
    task_type: str | None
    service_id: str | None
    long_running: bool
    fixed_latency_ms: float
    artefact: str | None = None
    entry: str | None = None
    inputs: list[str] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)


class EstimateOut(BaseModel):
    """Expected network, queueing, compute and fixed time, cost, energy and carbon."""

    network_ms: float
    queueing_ms: float
    compute_ms: float
    fixed_ms: float
    cost: float
    energy_kwh: float
    carbon_g: float


class PlacementOut(BaseModel):
    """Where a task runs: node, path (vertex ids), links, reserved bandwidth, estimate."""

    task_id: str
    node_id: str
    path: list[str]
    segments: list[str]
    reserved_bandwidth_mbps: float
    estimate: EstimateOut
    instance_id: str | None = Field(
        default=None,
        description="The service instance (CSCI-ID) serving a task that names a service (CS-ID).",
    )


class TransitionOut(BaseModel):
    """One step of a task's history."""

    from_state: TaskState | None
    to_state: TaskState
    at_s: float
    reason: str


class TaskOut(BaseModel):
    """A task: its demand, state, placement and full history."""

    id: str
    tenant: str
    state: TaskState
    reason: str = Field(description="Reason of the last transition.")
    submitted_at_s: float
    spec: TaskSpecOut
    placement: PlacementOut | None
    history: list[TransitionOut]

    @classmethod
    def of(cls, task: Task) -> TaskOut:
        """From the domain record (one validation pass: nested records are read as attributes)."""
        data = {
            "id": task.id,
            "tenant": task.tenant,
            "state": task.state,
            "reason": task.history[-1].reason,
            "submitted_at_s": task.submitted_at_s,
            "spec": task.spec,
            "placement": task.placement,
            "history": task.history,
        }
        return cls.model_validate(data, from_attributes=True)


class TaskPageOut(BaseModel):
    """One page of tasks; pass ``next_cursor`` as ``cursor`` for the next (None: the last)."""

    items: list[TaskOut]
    next_cursor: str | None


class AgentReportIn(_In):
    """An agent's word on a task of its node."""

    node_id: Name
    event: Literal["started", "finished"]
    ok: Flag = True
    reason: str = Field(default="", max_length=2000)
    measured_compute_ms: Number | None = Field(default=None, ge=0, le=1e12)
    """Compute time the agent measured (finished, ok): fed back into the efficiency table."""


class PrincipalIn(_In):
    """A principal to create."""

    id: Name
    tenant: Name
    roles: list[Role] = Field(min_length=1, max_length=len(Role))
    node_ids: list[Name] = Field(default_factory=list, max_length=10_000)
    agent_key_id: Name | None = None

    def to_principal(self) -> Principal:
        """The domain record."""
        return Principal(
            self.id, self.tenant, frozenset(self.roles), frozenset(self.node_ids), self.agent_key_id
        )


class PrincipalOut(BaseModel):
    """A principal."""

    id: str
    tenant: str
    roles: list[Role]
    node_ids: list[str]
    agent_key_id: str | None

    @classmethod
    def of(cls, p: Principal) -> PrincipalOut:
        """From the domain record."""
        return cls(
            id=p.id,
            tenant=p.tenant,
            roles=sorted(p.roles),
            node_ids=sorted(p.node_ids),
            agent_key_id=p.agent_key_id,
        )


class TokenOut(BaseModel):
    """A new token: ``token`` is shown this once and never stored in plain text."""

    token_id: str
    principal_id: str
    token: str


class AuditOut(BaseModel):
    """One audit entry."""

    seq: int
    at_s: float
    who: str
    action: str
    target: str
    detail: str

    @classmethod
    def of(cls, e: AuditEntry) -> AuditOut:
        """From the domain record."""
        return cls(**dataclasses.asdict(e))
