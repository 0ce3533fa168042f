"""Task graphs live: place a DAG of stages all or none and run it, stage outputs passed on.

``POST /v1/graphs`` takes a graph as ``suanwang graph place`` reads it (stages, edges, the
ingress site and budgets), each stage optionally naming the tenant's ``artefact``, ``entry``
and ``inputs``; it is placed on the live topology and state (a refusal is a 422 naming the
stage) and run by ``service.graphs``: each stage's task starts once its predecessors
completed, with their result objects as its inputs. ``?dry_run=true`` answers the placement
only. ``GET`` reads per-stage state, node, measured start and finish, run time against the
estimate and output digest, and the graph's makespan against the placement's; ``DELETE``
cancels what has not run yet. Graphs are kept in the plane's memory, as deployments are.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from suanwang.api.auth import PEOPLE, SUBMITTERS, allow, tenant_scope
from suanwang.api.deps import PlaneDep, answer
from suanwang.api.problems import ApiError
from suanwang.api.routes.objects import check_task_data, objects_of
from suanwang.api.schemas import AcceleratorIn, Amount, Digest, Flag, Name, Number, Positive
from suanwang.control.stores import Principal
from suanwang.model import AcceleratorNeed, Precision, TaskClass, TaskSpec
from suanwang.model.graph import Edge, GraphError, Stage, StageKind, TaskGraph
from suanwang.model.task import MAX_INPUTS
from suanwang.scheduling.graph import GraphPlacementError
from suanwang.service.graph_runs import GraphView, StageCode
from suanwang.service.graphs import Graphs

router = APIRouter(tags=["graphs"])

People = Annotated[Principal, Depends(allow(*PEOPLE))]
Submitter = Annotated[Principal, Depends(allow(*SUBMITTERS))]

MAX_STAGES = 1000
"""Most stages one graph posted here has."""

GRAPH_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
"""A graph's id: letters, digits, dots, underscores and hyphens (it names the run in paths)."""

RunPath = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class StageIn(_In):
    """A stage: its demand (``model.graph.Stage``) and, optionally, the tenant's code."""

    id: Name
    work_gflop: Amount
    precision: Precision = Precision.FP32
    cpu_cores: Number = Field(default=1.0, ge=0, le=1e6)
    mem_gib: Number = Field(default=0.5, ge=0, le=1e9)
    accelerator: AcceleratorIn | None = None
    task_class: TaskClass = TaskClass.WARM
    input_mb: Amount = 0.0
    result_mb: Amount = 0.0
    kind: StageKind = StageKind.COMPUTE
    reduction_ratio: Number | None = Field(default=None, ge=0, le=1)
    along_path: Flag = False
    datasets: list[Name] = Field(default_factory=list, max_length=MAX_INPUTS)
    artefact: Digest | None = Field(default=None, description="The tenant's artefact to run.")
    entry: Name | None = Field(default=None, description="'module:function' to call instead.")
    inputs: list[Digest] = Field(
        default_factory=list,
        max_length=MAX_INPUTS,
        description="Objects staged before the run, ahead of the predecessors' results.",
    )

    def to_stage(self) -> Stage:
        """The model's stage (its invariants checked there)."""
        a = self.accelerator
        return Stage(
            id=self.id,
            work_gflop=self.work_gflop,
            precision=self.precision,
            cpu_cores=self.cpu_cores,
            mem_gib=self.mem_gib,
            accelerator=None if a is None else AcceleratorNeed(a.kind, a.count, a.min_mem_gib),
            task_class=self.task_class,
            input_mb=self.input_mb,
            result_mb=self.result_mb,
            kind=self.kind,
            reduction_ratio=self.reduction_ratio,
            along_path=self.along_path,
            datasets=tuple(self.datasets),
        )


class EdgeIn(_In):
    """A dependency: ``dst`` starts once ``src``'s output has arrived."""

    src: Name
    dst: Name
    data_mb: Amount = 0.0
    reduction_ratio: Amount | None = None


class GraphIn(_In):
    """A task graph as ``suanwang graph place`` reads it, its stages optionally with code."""

    id: str = Field(pattern=GRAPH_ID)
    ingress_site: Name
    latency_budget_ms: Positive | None = None
    budget: Positive | None = None
    along_path: Flag = False
    tenant: Name | None = Field(default=None, description="The caller's tenant, when given.")
    stages: list[StageIn] = Field(min_length=1, max_length=MAX_STAGES)
    edges: list[EdgeIn] = Field(default_factory=list, max_length=10 * MAX_STAGES)


class StageOut(BaseModel):
    """One stage: planned against measured (times in ms after the graph's submission)."""

    stage: str
    state: str
    task_id: str | None
    planned_node: str
    planned_site: str
    node_id: str | None
    estimated_start_ms: float
    estimated_finish_ms: float
    started_ms: float | None
    finished_ms: float | None
    estimated_run_ms: float
    measured_run_ms: float | None
    run_error: float | None = Field(description="measured / estimated run time - 1.")
    output: str | None = Field(description="Digest of the stage's result object (a zip).")
    reason: str


class GraphOut(BaseModel):
    """A live graph: its state, stages, and the makespan measured against the estimate."""

    id: str
    name: str
    tenant: str
    state: str
    submitted_s: float
    estimated_makespan_ms: float
    measured_makespan_ms: float | None
    makespan_error: float | None = Field(description="measured / estimated makespan - 1.")
    reason: str
    stages: list[StageOut]

    @classmethod
    def of(cls, view: GraphView) -> GraphOut:
        """The document of ``view``."""
        return cls(
            id=view.id,
            name=view.name,
            tenant=view.tenant,
            state=view.state,
            submitted_s=view.submitted_s,
            estimated_makespan_ms=view.estimated_makespan_ms,
            measured_makespan_ms=view.measured_makespan_ms,
            makespan_error=view.makespan_error,
            reason=view.reason,
            stages=[
                StageOut(
                    stage=s.stage_id,
                    state=s.state,
                    task_id=s.task_id,
                    planned_node=s.planned_node,
                    planned_site=s.planned_site,
                    node_id=s.node_id,
                    estimated_start_ms=s.estimated_start_ms,
                    estimated_finish_ms=s.estimated_finish_ms,
                    started_ms=s.started_ms,
                    finished_ms=s.finished_ms,
                    estimated_run_ms=s.estimated_run_ms,
                    measured_run_ms=s.measured_run_ms,
                    run_error=s.run_error,
                    output=s.output,
                    reason=s.reason,
                )
                for s in view.stages
            ],
        )


def graphs_of(request: Request) -> Graphs:
    """The app's live graphs."""
    graphs: Graphs = request.app.state.graphs
    return graphs


def _invalid(path: str, message: str) -> ApiError:
    return ApiError(422, f"{path}: {message}", errors=[{"path": path, "message": message}])


def _graph(body: GraphIn) -> TaskGraph:
    try:
        return TaskGraph(
            body.id,
            tuple(stage.to_stage() for stage in body.stages),
            tuple(Edge(e.src, e.dst, e.data_mb, e.reduction_ratio) for e in body.edges),
            ingress_site=body.ingress_site,
            latency_budget_ms=body.latency_budget_ms,
            budget=body.budget,
            along_path=body.along_path,
        )
    except GraphError as exc:
        raise _invalid("body", str(exc)) from None


def _code(
    request: Request, who: Principal, body: GraphIn, graph: TaskGraph
) -> dict[str, StageCode]:
    """Each stage's code, its artefact and inputs checked to be the tenant's."""
    code: dict[str, StageCode] = {}
    store = objects_of(request)
    for i, stage in enumerate(body.stages):
        where = f"body.stages[{i}]"
        if stage.artefact is None and stage.entry is None and not stage.inputs:
            continue
        parents = len(graph.parents[i])
        if len(stage.inputs) + parents > MAX_INPUTS:
            message = f"inputs and {parents} predecessors' results exceed {MAX_INPUTS} objects"
            raise _invalid(f"{where}.inputs", message)
        try:
            spec = TaskSpec(
                stage.work_gflop,
                artefact=stage.artefact,
                entry=stage.entry,
                inputs=tuple(stage.inputs),
            )
        except ValueError as exc:
            raise _invalid(where, str(exc)) from None
        check_task_data(store, who.tenant, spec, field=where)
        code[stage.id] = StageCode(stage.artefact, stage.entry, tuple(stage.inputs))
    return code


def _refused(exc: GraphPlacementError, body: GraphIn) -> ApiError:
    """A 422 naming the stage the placement refused (the graph when no one stage is)."""
    message = str(exc)
    path = next(
        (f"body.stages[{i}]" for i, s in enumerate(body.stages) if f"stage {s.id!r}" in message),
        "body",
    )
    return ApiError(422, message, errors=[{"path": path, "message": message}])


@router.post("/v1/graphs", operation_id="runGraph", status_code=201)
async def run_graph(
    body: GraphIn,
    request: Request,
    response: Response,
    plane: PlaneDep,
    *,
    who: Submitter,
    dry_run: Annotated[
        bool, Query(description="Answer the placement; reserve and run nothing.")
    ] = False,
) -> GraphOut:
    """Place the graph on the live network, all stages or none, and run it stage by stage."""
    if body.tenant is not None and body.tenant != who.tenant:
        message = f"a graph runs as the caller's tenant {who.tenant!r}, got {body.tenant!r}"
        raise _invalid("body.tenant", message)
    if body.ingress_site not in plane.live.scenario.topology.sites:
        raise _invalid("body.ingress_site", f"no site {body.ingress_site!r} on the live topology")
    graph = _graph(body)
    code = _code(request, who, body, graph)
    graphs = graphs_of(request)
    try:
        view = await answer(
            plane.call(lambda batch: graphs.submit(batch, who, graph, code, dry_run=dry_run))
        )
    except GraphPlacementError as exc:
        raise _refused(exc, body) from None
    if dry_run:
        response.status_code = 200
    return GraphOut.of(view)


@router.get("/v1/graphs", operation_id="listGraphs")
async def list_graphs(request: Request, plane: PlaneDep, who: People) -> list[GraphOut]:
    """The graphs of the caller's tenant (every tenant's for admins), oldest first."""
    scope, graphs = tenant_scope(who), graphs_of(request)
    views = await answer(plane.call(lambda _: graphs.listed(scope)))
    return [GraphOut.of(view) for view in views]


@router.get("/v1/graphs/{run_id}", operation_id="getGraph")
async def get_graph(run_id: RunPath, request: Request, plane: PlaneDep, who: People) -> GraphOut:
    """One graph: per stage its state, node, measured times and output; the makespan."""
    scope, graphs = tenant_scope(who), graphs_of(request)
    return GraphOut.of(await answer(plane.call(lambda _: graphs.get(run_id, scope))))


@router.delete("/v1/graphs/{run_id}", operation_id="cancelGraph")
async def cancel_graph(
    run_id: RunPath, request: Request, plane: PlaneDep, who: Submitter
) -> GraphOut:
    """Cancel a running graph: its running stages are cancelled, the rest never start."""
    scope, graphs = tenant_scope(who), graphs_of(request)
    view = await answer(plane.call(lambda batch: graphs.cancel(batch, who, run_id, scope)))
    return GraphOut.of(view)
