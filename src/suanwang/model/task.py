"""Tasks: the demand (``TaskSpec``) and its lifecycle (``Task``) as an explicit transition table."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from enum import StrEnum

from suanwang.model.enums import AcceleratorKind, Precision, TaskClass, TrustLevel
from suanwang.model.placement import Placement
from suanwang.model.policy import check_data_tag, check_region_pattern

_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
_ENTRY_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")

MAX_INPUTS = 64
"""Most input objects a task may name."""


@dataclass(frozen=True, slots=True)
class AcceleratorNeed:
    """Accelerators a task needs on one node.

    Attributes:
        kind: Kind of device.
        count: Number of devices.
        min_mem_gib: Memory needed on each device, in GiB.
    """

    kind: AcceleratorKind
    count: int = 1
    min_mem_gib: float = 0.0

    def __post_init__(self) -> None:
        if self.count < 1 or self.min_mem_gib < 0:
            raise ValueError("an accelerator need has count >= 1 and min_mem_gib >= 0")


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """What a user asks for: the work, the resources it needs and the terms it must meet.

    Attributes:
        work_gflop: Work to do, in 10^9 operations at ``precision``.
        precision: Precision of the work.
        cpu_cores: CPU cores held while it runs.
        mem_gib: Memory held while it runs, in GiB.
        accelerator: Accelerators held while it runs, or None for CPU work.
        data_in_mb: Data sent from the ingress to the node, in megabytes.
        data_out_mb: Data sent back, in megabytes.
        ingress_site: Site where the request enters the network (None in catalogue templates).
        latency_budget_ms: End-to-end budget (network + queueing + compute + fixed), or None.
        deadline_s: Completion deadline after submission in seconds, or None.
        task_class: Hot, warm or cold.
        budget: Most the user will pay, in currency units, or None for no limit.
        residency: Region patterns where the data may be processed, matched by the region
            hierarchy (``CN`` holds ``CN-GD-SZ``; see ``suanwang.model.policy``); empty for
            anywhere.
        avoid_sites: Sites this run must not land on (a replica of its deployment runs
            there already): the spread of a deployment's replicas over sites.
        data_tags: Tags on the data (``personal``, ``medical``...); each must have a data
            policy in the topology, and the task may run only where all of them allow.
        min_trust_level: Least trust level a node must have.
        affinity_key: Session key; requests with one key stay on one instance while it serves.
        task_type: Catalogue task type this spec was drawn from, if any.
        service_id: CS-ID the request addresses, if any.
        long_running: A long-running service (an endpoint that serves until its work is done or
            it is cancelled) rather than a batch job: when its node is drained or suspected,
            its replacement starts elsewhere before this run is released (make-before-break).
        fixed_latency_ms: Time spent outside the network and the compute node (sensor,
            display, processing at the terminal) that counts against the latency budget.
        artefact: Digest (SHA-256, hex) of the tenant's artefact to run (its manifest in the
            object store), or None for the built-in work of ``task_type``.
        entry: ``module:function`` to call instead of the artefact's own entry point.
        inputs: Digests of the tenant's objects staged to the node before the run.
        datasets: Ids of the topology's datasets the task reads (``Topology.datasets``): each
            one not held at the node's site moves there from the nearest replica first.
    """

    work_gflop: float
    precision: Precision = Precision.FP32
    cpu_cores: float = 1.0
    mem_gib: float = 0.5
    accelerator: AcceleratorNeed | None = None
    data_in_mb: float = 0.0
    data_out_mb: float = 0.0
    ingress_site: str | None = None
    latency_budget_ms: float | None = None
    deadline_s: float | None = None
    task_class: TaskClass = TaskClass.WARM
    budget: float | None = None
    residency: tuple[str, ...] = ()
    avoid_sites: tuple[str, ...] = ()
    data_tags: frozenset[str] = frozenset()
    min_trust_level: TrustLevel = TrustLevel.UNTRUSTED
    affinity_key: str | None = None
    task_type: str | None = None
    service_id: str | None = None
    long_running: bool = False
    fixed_latency_ms: float = 0.0
    artefact: str | None = None
    entry: str | None = None
    inputs: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in (
            "work_gflop",
            "cpu_cores",
            "mem_gib",
            "data_in_mb",
            "data_out_mb",
            "fixed_latency_ms",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        for name in ("latency_budget_ms", "deadline_s", "budget"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive when given, got {value}")
        if not math.isfinite(self.fixed_latency_ms):
            raise ValueError(f"fixed_latency_ms must be finite, got {self.fixed_latency_ms}")
        for site_id in self.avoid_sites:
            if not isinstance(site_id, str) or not site_id:
                raise ValueError(f"avoid_sites holds site ids, got {site_id!r}")
        for pattern in self.residency:
            check_region_pattern(pattern)
        for tag in self.data_tags:
            check_data_tag(tag)
        self._check_code()

    def _check_code(self) -> None:
        for name, digest in [("artefact", self.artefact), *(("inputs", d) for d in self.inputs)]:
            if digest is not None and not _DIGEST_RE.match(digest):
                raise ValueError(f"{name} must be a SHA-256 digest (64 hex digits), got {digest!r}")
        if self.entry is not None and not _ENTRY_RE.match(self.entry):
            raise ValueError(f"entry must be 'module:function', got {self.entry!r}")
        if self.entry is not None and self.artefact is None:
            raise ValueError("entry needs an artefact to call it in")
        if self.inputs and self.artefact is None:
            raise ValueError("inputs need an artefact to read them")
        if len(self.inputs) > MAX_INPUTS:
            raise ValueError(f"inputs: at most {MAX_INPUTS} objects, got {len(self.inputs)}")
        for dataset_id in self.datasets:
            if not isinstance(dataset_id, str) or not dataset_id:
                raise ValueError(f"datasets holds dataset ids, got {dataset_id!r}")
        if len(set(self.datasets)) != len(self.datasets):
            raise ValueError(f"datasets names a dataset twice, got {list(self.datasets)}")
        if len(self.datasets) > MAX_INPUTS:
            raise ValueError(f"datasets names at most {MAX_INPUTS}, got {len(self.datasets)}")

    def at(self, ingress_site: str) -> TaskSpec:
        """This spec entering the network at ``ingress_site``."""
        return dataclasses.replace(self, ingress_site=ingress_site)


class TaskState(StrEnum):
    """States of a task. ``COMPLETED``, ``FAILED``, ``CANCELLED`` and ``REJECTED`` are final."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        """True for states a task never leaves."""
        return not TRANSITIONS[self]


TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    TaskState.PENDING: frozenset({TaskState.SCHEDULED, TaskState.REJECTED, TaskState.CANCELLED}),
    # Back to PENDING: the chosen node or path was lost before the task started.
    TaskState.SCHEDULED: frozenset(
        {TaskState.RUNNING, TaskState.PENDING, TaskState.CANCELLED, TaskState.FAILED}
    ),
    # Back to PENDING: the node failed mid-run and the task is to be re-placed. RUNNING to
    # RUNNING: a long-running service moves without a break (its replacement is started, then
    # it moves to the replacement's placement), or a step of such a move is recorded.
    TaskState.RUNNING: frozenset(
        {
            TaskState.COMPLETED,
            TaskState.FAILED,
            TaskState.CANCELLED,
            TaskState.PENDING,
            TaskState.RUNNING,
        }
    ),
    TaskState.COMPLETED: frozenset(),
    TaskState.FAILED: frozenset(),
    TaskState.CANCELLED: frozenset(),
    TaskState.REJECTED: frozenset(),
}
"""The lifecycle: for each state, the states it may move to."""


class IllegalTransitionError(ValueError):
    """A task was asked to move along an edge the transition table does not have."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One step of a task's history.

    Attributes:
        from_state: State left (None for the submission itself).
        to_state: State entered.
        at_s: Time of the step in seconds (wall-clock epoch live, simulated time in the twin).
        reason: Why, in words a person can act on.
        node_id: The node a run begins on with this step: set where the task is placed
            (into SCHEDULED) or moves (RUNNING -> RUNNING to a new placement), else None.
            Metering reads every run's node from it (``market.metering``).
    """

    from_state: TaskState | None
    to_state: TaskState
    at_s: float
    reason: str
    node_id: str | None = None


@dataclass(frozen=True, slots=True)
class Task:
    """A submitted task with its lifecycle.

    Create one with ``Task.submit``; move it with ``transition``, which returns a new record and
    refuses any step outside ``TRANSITIONS``.

    Attributes:
        id: Task id.
        spec: The demand.
        tenant: Tenant that owns the task.
        history: Every transition so far, the submission first.
        placement: Current placement, set on SCHEDULED and cleared on a return to PENDING.
    """

    id: str
    spec: TaskSpec
    tenant: str
    history: tuple[Transition, ...]
    placement: Placement | None = None

    @classmethod
    def submit(
        cls, task_id: str, spec: TaskSpec, tenant: str, at_s: float, reason: str = "submitted"
    ) -> Task:
        """A new task in state PENDING."""
        return cls(task_id, spec, tenant, (Transition(None, TaskState.PENDING, at_s, reason),))

    @property
    def state(self) -> TaskState:
        """Current state (that of the last transition)."""
        return self.history[-1].to_state

    @property
    def submitted_at_s(self) -> float:
        """Time of submission."""
        return self.history[0].at_s

    def transition(
        self, to_state: TaskState, at_s: float, reason: str, placement: Placement | None = None
    ) -> Task:
        """This task moved to ``to_state`` at ``at_s`` for ``reason``.

        Args:
            to_state: State to enter.
            at_s: Time of the step; never earlier than the last step.
            reason: Why the task moves.
            placement: Required when entering SCHEDULED; on RUNNING -> RUNNING, when given, the
                placement the task moved to; ignored otherwise.

        Raises:
            IllegalTransitionError: the table has no such edge, time runs backwards, the reason is
                empty, or SCHEDULED is entered without a placement.
        """
        current = self.state
        if to_state not in TRANSITIONS[current]:
            raise IllegalTransitionError(
                f"task {self.id!r}: {current} -> {to_state} is not allowed"
            )
        if at_s < self.history[-1].at_s:
            raise IllegalTransitionError(
                f"task {self.id!r}: transition at {at_s} s precedes the last one "
                f"at {self.history[-1].at_s} s"
            )
        if not reason:
            raise IllegalTransitionError(f"task {self.id!r}: a transition needs a reason")
        node_id: str | None = None  # set where a run begins on a node with this step
        if to_state is TaskState.SCHEDULED:
            if placement is None:
                raise IllegalTransitionError(f"task {self.id!r}: SCHEDULED needs a placement")
            new_placement: Placement | None = placement
            node_id = placement.node_id
        elif to_state is TaskState.PENDING:
            new_placement = None
        elif to_state is current is TaskState.RUNNING and placement is not None:
            new_placement = placement
            node_id = placement.node_id
        else:
            new_placement = self.placement
        step = Transition(current, to_state, at_s, reason, node_id)
        # Built directly: dataclasses.replace costs ~10 µs, and every task makes several steps.
        return Task(self.id, self.spec, self.tenant, (*self.history, step), new_placement)
