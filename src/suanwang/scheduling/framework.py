"""The scheduling framework: extension points, status codes and the per-task cycle.

Shaped after the Kubernetes scheduler framework, but vectorised (DESIGN.md §5): a Filter returns
a boolean mask over ALL nodes, a Score returns an array over all nodes, and the framework combines
them with numpy; no plugin loops over nodes in Python. One cycle places one task:

    PreFilter -> Filter (pre-route) -> Route -> Filter (post-route) -> Score -> Reserve

The caller (the controller, a batch planner) hands a placement to whatever runs it.

Filters that need the network path (latency budget, bandwidth on path) declare
``stage = Stage.POST_ROUTE`` and run after the Route plugin; all others run before it, so the
path search only considers nodes that could host the task at all.

Every plugin point below is a Protocol; a plugin is any object with a ``name`` and the method of
its point. Plugins must be pure with respect to the cycle: they read ``Cycle`` and the
``ClusterState`` and return values; only Reserve plugins change shared state, and they must undo
it exactly in ``unreserve``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from suanwang.model import Placement, TaskSpec

if TYPE_CHECKING:
    from suanwang.scheduling.cycle import Cycle

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


class Code(StrEnum):
    """Outcome of a plugin call or a cycle."""

    SUCCESS = "success"
    UNSCHEDULABLE = "unschedulable"
    """No node can take the task now; the reason says why. Retrying later may succeed."""
    UNRESOLVABLE = "unresolvable"
    """No node could take the task even on an idle network with every node and link up (each
    was turned away by a filter's ``never`` mask): waiting cannot help, so it is refused."""
    ERROR = "error"
    """The request itself is wrong (unknown ingress, impossible demand); retrying will not help."""


@dataclass(frozen=True, slots=True)
class Status:
    """A plugin's verdict with the reason and the plugin that gave it."""

    code: Code = Code.SUCCESS
    reason: str = ""
    plugin: str = ""

    @property
    def ok(self) -> bool:
        """True for SUCCESS."""
        return self.code is Code.SUCCESS


SUCCESS = Status()


class Stage(StrEnum):
    """When a Filter runs relative to the Route point."""

    PRE_ROUTE = "pre-route"
    POST_ROUTE = "post-route"


@runtime_checkable
class PreFilterPlugin(Protocol):
    """Checks the request as a whole before any node is looked at.

    Contract: return SUCCESS, or ERROR/UNSCHEDULABLE with a reason that applies to every node
    (e.g. the ingress site is unknown). Must not depend on node state.
    """

    name: str

    def pre_filter(self, cycle: Cycle) -> Status:
        """Verdict on the request."""
        ...


@runtime_checkable
class FilterPlugin(Protocol):
    """Says which nodes can take the task.

    Contract: ``filter`` returns a boolean array over all nodes of the cycle's state (True = the
    node passes). ``explain`` gives, for one rejected node index, a reason a person can act on
    ("needs 4 free cores, has 2"); it is called only when a diagnosis is asked for, so it may
    be slow. ``stage`` says whether the filter needs the route (``Stage.POST_ROUTE``).
    """

    name: str
    stage: ClassVar[Stage]

    def filter(self, cycle: Cycle) -> BoolArray:
        """Mask of nodes that pass."""
        ...

    def explain(self, cycle: Cycle, node: int) -> str:
        """Why ``node`` does not pass."""
        ...


@runtime_checkable
class NeverMask(Protocol):
    """Optional for a Filter plugin: the nodes it would turn away whatever the load.

    Contract: ``never(cycle)`` returns a boolean array over all nodes, True where the filter
    would reject the node even on an idle network with every node and link up (its policy,
    its capacity in all, its best case over the budget); it must be a subset of what
    ``filter`` rejects on any state and must not depend on the ledger or on down marks. It is
    read only when a cycle finds no node: if every node is ``never`` for some filter, the
    cycle ends UNRESOLVABLE and the controller refuses the task instead of queueing it. A
    filter without ``never`` is taken to reject only for now.
    """

    name: str

    def never(self, cycle: Cycle) -> BoolArray:
        """Mask of the nodes this filter can never let through for the cycle's task."""
        ...


@dataclass(frozen=True, slots=True)
class Miss:
    """How far some rejected nodes are from passing one filter (what ``MissMeasure`` answers).

    Attributes:
        kinds: What can fall short, as short labels ("free CPU cores", "best case over the
            limit"), listed from the kind a node is likeliest to overcome to the least likely.
        units: The unit of ``short_by`` for each of ``kinds`` ("cores", "ms").
        kind: Per node asked about, the index into ``kinds`` of what fell short.
        short_by: Per node, how much was missing in that kind's unit (> 0; ``inf`` when no load
            change would make the node pass, e.g. it has fewer cores in all than the task holds).
    """

    kinds: tuple[str, ...]
    units: tuple[str, ...]
    kind: IntArray
    short_by: FloatArray


@runtime_checkable
class MissMeasure(Protocol):
    """Optional for a Filter or Route plugin: how far the nodes it rejected are from passing.

    Contract: ``miss(cycle, nodes)`` is called only by a diagnosis, with the indexes of nodes this
    plugin rejected in ``cycle``, after the cycle; it reads the cycle and changes nothing, and
    its arrays are parallel to ``nodes``, the kind agreeing with ``explain``'s reason. A
    diagnosis groups the plugin's rejections by kind and lists the closest (smallest
    ``short_by``) first; a plugin without ``miss`` has its rejections in one group, in node order.
    """

    name: str

    def miss(self, cycle: Cycle, nodes: IntArray) -> Miss:
        """What each of ``nodes`` fell short of, and by how much."""
        ...


@runtime_checkable
class RoutePlugin(Protocol):
    """Chooses the network path from the task's ingress to each surviving node.

    Contract: ``route`` returns a ``RouteResult`` (one-way latency, bottleneck bandwidth, hop
    count and transfer price per node; ``inf`` latency for unreachable nodes) and changes
    nothing; the framework stores it in ``cycle.route`` and rejects the unreachable nodes with
    ``explain``'s reason. ``path`` materialises the chosen
    node's path (vertex ids, link ids, link indexes) for binding; it is called once per cycle.
    """

    name: str

    def route(self, cycle: Cycle) -> RouteResult:
        """Per-node route figures."""
        ...

    def path(self, cycle: Cycle, node: int) -> ChosenPath:
        """The path to ``node``."""
        ...

    def explain(self, cycle: Cycle, node: int) -> str:
        """Why ``node`` is unreachable."""
        ...


@runtime_checkable
class ScorePlugin(Protocol):
    """Ranks the surviving nodes.

    Contract: ``score`` returns a float array over all nodes; only entries of surviving nodes are
    read. ``higher_is_better`` says the direction. The framework scales each plugin's values over
    the surviving nodes to 0-100 with ``scaling.scale_scores`` (the best 100, the others less by
    their gap to the best relative to the largest magnitude; all equal -> 100; non-finite -> 0)
    and adds them with the profile's weights.
    """

    name: str
    higher_is_better: ClassVar[bool]

    def score(self, cycle: Cycle) -> FloatArray:
        """Raw values per node."""
        ...


@runtime_checkable
class ReservePlugin(Protocol):
    """Holds resources for the chosen placement.

    Contract: ``reserve`` is idempotent per task id and changes nothing when it fails (it
    returns a non-SUCCESS status instead); ``unreserve`` undoes exactly what ``reserve`` did and
    is a no-op for a task that holds nothing.
    """

    name: str

    def reserve(self, cycle: Cycle, placement: Placement) -> Status:
        """Hold what ``placement`` needs."""
        ...

    def unreserve(self, task_id: str) -> None:
        """Give back what the task holds."""
        ...


@dataclass(frozen=True, slots=True)
class RouteResult:
    """Route figures per node (arrays over all nodes of the state).

    Attributes:
        latency_ms: One-way propagation latency from the ingress (``inf``: unreachable).
        bottleneck_mbps: Smallest residual bandwidth along the path (``inf`` at the ingress site).
        hops: Links on the path.
        cost_per_gb: Transfer price along the path.
        rate_mbps: The rate the task's data would move at along the path, where it shares links
            with flows already moving input (``Reservations.shared_rate_mbps``); None when no
            link on any path is shared, the rate then being ``bottleneck_mbps``.
    """

    latency_ms: FloatArray
    bottleneck_mbps: FloatArray
    hops: FloatArray
    cost_per_gb: FloatArray
    rate_mbps: FloatArray | None = None

    def transfer_rate_mbps(self) -> FloatArray:
        """``rate_mbps`` where links are shared, else ``bottleneck_mbps``."""
        return self.bottleneck_mbps if self.rate_mbps is None else self.rate_mbps


@dataclass(frozen=True, slots=True)
class ChosenPath:
    """The materialised path to the chosen node."""

    vertices: tuple[str, ...]
    segments: tuple[str, ...]
    link_indexes: tuple[int, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Request:
    """A task to place: its id, demand and tenant.

    Attributes:
        task_id: Id of the run to place (the ledger holds it under this id).
        spec: The demand.
        tenant: Tenant of the task.
        waited_ms: Time the task has already waited since it became PENDING (in the
            controller's queue): it counts against the latency budget like any other waiting.
    """

    task_id: str
    spec: TaskSpec
    tenant: str = ""
    waited_ms: float = 0.0
