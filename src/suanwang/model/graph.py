"""Decomposition (算力解构): a task as a DAG of stages with data moving along its edges.

A ``TaskGraph`` is a request cut into ``Stage``s. Each stage is a piece of work with the demand
of a ``TaskSpec`` (work in GFLOP at a precision, cores, memory, accelerators, class); each
``Edge`` says that its ``dst`` starts only once the output of its ``src`` has arrived, and how
much data that is. The graph enters the network at ``ingress_site``: stages without a parent
(and any stage with ``input_mb``) receive their input from there, and stages without a child
send their ``result_mb`` back there, so the end-to-end latency of the graph is the time from
the request leaving the ingress to the last result arriving there.

An edge's data is either given in MB (``data_mb``) or as a data-reduction ratio of what its
source stage takes in (``reduction_ratio``: a filter that keeps a tenth of its input has 0.1);
``TaskGraph.edge_data_mb`` holds the resolved sizes, worked out in topological order (a stage's
input is its ``input_mb`` plus the data of every edge into it).

A stage of kind ``aggregate`` (a reduction: AllReduce, a parameter server's sum, a merge of
counts) sends ``reduction_ratio`` x its input along each edge out of it that gives no size of its
own; such a stage may run on a network element that offers compute (在网计算,
``scheduling.graph.innetwork``). A stage with ``along_path`` (or every stage, with the graph's
``along_path``) runs on a node of the routed path from the ingress toward the cloud (逐级计算,
``scheduling.graph.alongpath``); a stage naming ``datasets`` reads them where it runs.

Every invariant is checked on construction, and each error names the field and the value.
"""

from __future__ import annotations

import graphlib
import math
from dataclasses import dataclass, field
from enum import StrEnum

from suanwang.model.enums import Precision, TaskClass
from suanwang.model.task import AcceleratorNeed, TaskSpec


class GraphError(ValueError):
    """A task graph breaks an invariant; the message names the field and the value."""


class StageKind(StrEnum):
    """What a stage does: general work, or a reduction that may run in the network."""

    COMPUTE = "compute"
    AGGREGATE = "aggregate"


def _check_amount(where: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise GraphError(f"{where} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of a task graph: a piece of work with the demand of a ``TaskSpec``.

    Attributes:
        id: Stage id, unique in its graph.
        work_gflop: Work in 10^9 operations at ``precision``.
        precision: Precision of the work.
        cpu_cores: Cores the stage holds while the graph runs.
        mem_gib: Memory the stage holds, in GiB.
        accelerator: Accelerators the stage holds, or None for CPU work.
        task_class: Hot, warm or cold (selects the efficiency its time is estimated with).
        input_mb: Data the stage receives straight from the ingress site, in MB.
        result_mb: Data a stage without children sends back to the ingress, in MB (must be 0
            on a stage with children: its output goes along its edges).
        kind: ``compute``, or ``aggregate`` (a reduction; CPU only, it needs
            ``reduction_ratio``).
        reduction_ratio: For an aggregate stage, its output as a share (0..1) of its input:
            the data of each edge out of it that gives neither ``data_mb`` nor a ratio.
        along_path: Run on a node of the path from the ingress (or the predecessor's node)
            toward the cloud.
        datasets: Ids of the topology's datasets the stage reads (``Topology.datasets``).
    """

    id: str
    work_gflop: float
    precision: Precision = Precision.FP32
    cpu_cores: float = 1.0
    mem_gib: float = 0.5
    accelerator: AcceleratorNeed | None = None
    task_class: TaskClass = TaskClass.WARM
    input_mb: float = 0.0
    result_mb: float = 0.0
    kind: StageKind = StageKind.COMPUTE
    reduction_ratio: float | None = None
    along_path: bool = False
    datasets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.id:
            raise GraphError("stage id must not be empty, got ''")
        for name in ("work_gflop", "cpu_cores", "mem_gib", "input_mb", "result_mb"):
            _check_amount(f"stage {self.id!r}: {name}", getattr(self, name))
        object.__setattr__(self, "datasets", tuple(self.datasets))
        try:
            object.__setattr__(self, "kind", StageKind(self.kind))
        except ValueError:
            known = [str(kind) for kind in StageKind]
            raise GraphError(
                f"stage {self.id!r}: kind must be one of {known}, got {self.kind!r}"
            ) from None
        ratio = self.reduction_ratio
        if self.kind is StageKind.AGGREGATE:
            if ratio is None or not (math.isfinite(ratio) and 0.0 <= ratio <= 1.0):
                raise GraphError(
                    f"stage {self.id!r}: an aggregate stage needs reduction_ratio in [0, 1], "
                    f"got {ratio!r}"
                )
            if self.accelerator is not None:
                raise GraphError(
                    f"stage {self.id!r}: an aggregate stage runs on CPU, got accelerator "
                    f"{self.accelerator.kind}"
                )
        elif ratio is not None:
            raise GraphError(
                f"stage {self.id!r}: reduction_ratio is for kind 'aggregate', got kind "
                f"{str(self.kind)!r} with reduction_ratio {ratio!r}"
            )

    @property
    def spec(self) -> TaskSpec:
        """The stage's demand as a ``TaskSpec`` (what the estimates and the ledger read)."""
        return TaskSpec(
            work_gflop=self.work_gflop,
            precision=self.precision,
            cpu_cores=self.cpu_cores,
            mem_gib=self.mem_gib,
            accelerator=self.accelerator,
            data_in_mb=self.input_mb,
            data_out_mb=self.result_mb,
            task_class=self.task_class,
            datasets=self.datasets,
        )


@dataclass(frozen=True, slots=True)
class Edge:
    """A dependency: ``dst`` starts once the output of ``src`` has arrived.

    Attributes:
        src: Id of the stage whose output is sent.
        dst: Id of the stage that waits for it.
        data_mb: Data sent, in MB (used when ``reduction_ratio`` is None).
        reduction_ratio: When given, the data sent is this share of everything ``src`` takes
            in (its ``input_mb`` plus its incoming edges' data); ``data_mb`` must then be 0.
    """

    src: str
    dst: str
    data_mb: float = 0.0
    reduction_ratio: float | None = None

    def __post_init__(self) -> None:
        _check_amount(f"edge {self.src}->{self.dst}: data_mb", self.data_mb)
        if self.reduction_ratio is not None:
            _check_amount(f"edge {self.src}->{self.dst}: reduction_ratio", self.reduction_ratio)
            if self.data_mb != 0:
                raise GraphError(
                    f"edge {self.src}->{self.dst}: give data_mb or reduction_ratio, not both "
                    f"(got data_mb={self.data_mb!r}, reduction_ratio={self.reduction_ratio!r})"
                )


@dataclass(frozen=True, slots=True)
class TaskGraph:
    """A task decomposed into a DAG of stages.

    Attributes:
        id: Graph id (its stages reserve under ``<id>/<stage id>``).
        stages: The stages, each id once.
        edges: The dependencies; each (src, dst) pair at most once, no cycles.
        ingress_site: Site where the request enters and results return (None in templates).
        latency_budget_ms: End-to-end budget (request out of the ingress to the last result
            back), or None.
        budget: Most the tenant will pay for the stages' compute, or None for no limit.
        tenant: Tenant that owns the graph, if known.
        along_path: Policy: every stage runs along the path from the ingress toward the
            cloud, as if each said ``along_path``.
        order: Stage indexes in a topological order (parents before children).
        parents: Per stage, the indexes of the edges into it.
        children: Per stage, the indexes of the edges out of it.
        edge_data_mb: Per edge, the data it carries in MB (ratios resolved).
        ends: Per edge, the stage indexes (src, dst).
    """

    id: str
    stages: tuple[Stage, ...]
    edges: tuple[Edge, ...] = ()
    ingress_site: str | None = None
    latency_budget_ms: float | None = None
    budget: float | None = None
    tenant: str | None = None
    along_path: bool = False
    order: tuple[int, ...] = field(init=False, repr=False, compare=False)
    parents: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)
    children: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)
    edge_data_mb: tuple[float, ...] = field(init=False, repr=False, compare=False)
    ends: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    _ids: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        object.__setattr__(self, "edges", tuple(self.edges))
        if not self.id:
            raise GraphError("graph id must not be empty, got ''")
        if not self.stages:
            raise GraphError(f"graph {self.id!r}: stages must not be empty, got ()")
        for name in ("latency_budget_ms", "budget"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise GraphError(f"graph {self.id!r}: {name} must be positive, got {value!r}")
        index = self._index()
        object.__setattr__(self, "_ids", index)
        ends: list[tuple[int, int]] = []
        parents: list[list[int]] = [[] for _ in self.stages]
        children: list[list[int]] = [[] for _ in self.stages]
        seen: set[tuple[int, int]] = set()
        for k, edge in enumerate(self.edges):
            for end in ("src", "dst"):
                if getattr(edge, end) not in index:
                    raise GraphError(
                        f"graph {self.id!r}: edges[{k}].{end} names no stage, "
                        f"got {getattr(edge, end)!r}"
                    )
            u, v = index[edge.src], index[edge.dst]
            if (u, v) in seen:
                raise GraphError(f"graph {self.id!r}: edges[{k}] repeats {edge.src}->{edge.dst}")
            seen.add((u, v))
            ends.append((u, v))
            children[u].append(k)
            parents[v].append(k)
        for s, stage in enumerate(self.stages):
            if children[s] and stage.result_mb:
                raise GraphError(
                    f"graph {self.id!r}: stage {stage.id!r} has children, so its result_mb "
                    f"must be 0, got {stage.result_mb!r}"
                )
        object.__setattr__(self, "ends", tuple(ends))
        order = self._topological_order(parents)
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "parents", tuple(tuple(p) for p in parents))
        object.__setattr__(self, "children", tuple(tuple(c) for c in children))
        object.__setattr__(self, "edge_data_mb", self._resolve_data(order, parents))

    def _index(self) -> dict[str, int]:
        index: dict[str, int] = {}
        for s, stage in enumerate(self.stages):
            if stage.id in index:
                raise GraphError(f"graph {self.id!r}: stages[{s}].id repeats {stage.id!r}")
            index[stage.id] = s
        return index

    def _topological_order(self, parents: list[list[int]]) -> tuple[int, ...]:
        sorter: graphlib.TopologicalSorter[int] = graphlib.TopologicalSorter()
        for s in range(len(self.stages)):
            sorter.add(s, *(self.ends[k][0] for k in parents[s]))
        try:
            return tuple(sorter.static_order())
        except graphlib.CycleError as error:
            cycle = " -> ".join(self.stages[s].id for s in error.args[1])
            raise GraphError(f"graph {self.id!r}: edges form a cycle: {cycle}") from None

    def _resolve_data(self, order: tuple[int, ...], parents: list[list[int]]) -> tuple[float, ...]:
        data = [edge.data_mb for edge in self.edges]
        taken_in = [0.0] * len(self.stages)
        for s in order:
            taken_in[s] = self.stages[s].input_mb + sum(data[k] for k in parents[s])
            stage = self.stages[s]
            for k in self.children[s]:
                ratio = self.edges[k].reduction_ratio
                if ratio is None and stage.kind is StageKind.AGGREGATE and not data[k]:
                    ratio = stage.reduction_ratio  # an aggregate's own ratio, unless the edge
                if ratio is not None:  # names a size or a ratio of its own
                    data[k] = ratio * taken_in[s]
        return tuple(data)

    def index_of(self, stage_id: str) -> int:
        """Index of the stage called ``stage_id`` in ``stages``.

        Raises:
            KeyError: No stage has that id.
        """
        return self._ids[stage_id]

    @property
    def entries(self) -> tuple[int, ...]:
        """Stages that receive data from the ingress: no parents, or some ``input_mb``."""
        return tuple(
            s for s, stage in enumerate(self.stages) if not self.parents[s] or stage.input_mb > 0
        )

    @property
    def exits(self) -> tuple[int, ...]:
        """Stages without children: their ``result_mb`` goes back to the ingress."""
        return tuple(s for s in range(len(self.stages)) if not self.children[s])

    def runs_along_path(self, stage: int) -> bool:
        """Whether stage ``stage`` runs along the path toward the cloud (its flag, the graph's)."""
        return self.along_path or self.stages[stage].along_path
