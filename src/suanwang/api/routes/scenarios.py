"""Scenarios (the live topology loaded from a built-in or an upload) and digital-twin runs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from suanwang.api.auth import PEOPLE, STAFF, SUBMITTERS, allow, tenant_scope
from suanwang.api.deps import IdPath, PlaneDep, answer
from suanwang.api.problems import ApiError
from suanwang.api.schemas import Count, Flag, Number
from suanwang.control.stores import Principal
from suanwang.model import Scenario
from suanwang.scenario import ScenarioError, builtin_info, load_builtin, loads_scenario
from suanwang.scheduling import builtin_profiles
from suanwang.service.plane import BUILD_ERRORS
from suanwang.service.twinruns import RunState, TwinRun, TwinRuns

router = APIRouter(tags=["scenarios"])

People = Annotated[Principal, Depends(allow(*PEOPLE))]
Staff = Annotated[Principal, Depends(allow(*STAFF))]
Submitter = Annotated[Principal, Depends(allow(*SUBMITTERS))]
ScenarioName = Annotated[str, Field(min_length=1, max_length=100)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class BuiltinOut(BaseModel):
    """A built-in scenario."""

    name: str
    description: str


class ScenariosOut(BaseModel):
    """The live scenario, the built-ins that can be loaded, and the built-in profiles."""

    live: str
    builtins: list[BuiltinOut]
    profiles: list[str]


class ScenarioLoadIn(_In):
    """A scenario to make live: a built-in by name, or the text of a scenario file."""

    builtin: ScenarioName | None = None
    text: str | None = Field(default=None, min_length=1)
    format: Literal["yaml", "json"] = "yaml"
    cancel_active: Flag = Field(
        default=False, description="Cancel the tasks active on the current topology."
    )

    @model_validator(mode="after")
    def _one_source(self) -> ScenarioLoadIn:
        if (self.builtin is None) == (self.text is None):
            raise ValueError("give exactly one of builtin and text")
        return self

    def load(self) -> Scenario:
        """Read the scenario.

        Raises:
            ScenarioError: the scenario is bad; whatever else reading it raises (a number too
                large to convert, nesting too deep) is reported the same way, never as a 500.
        """
        try:
            if self.builtin is not None:
                return load_builtin(self.builtin)
            assert self.text is not None
            return loads_scenario(self.text, self.format, source="<upload>")
        except ScenarioError:
            raise
        except BUILD_ERRORS as exc:
            message = " ".join(f"cannot read the scenario: {exc}".split())[:300]
            raise ScenarioError(message, source="<upload>") from None


class ScenarioLoadOut(BaseModel):
    """The scenario now live and how many tasks its loading cancelled."""

    live: str
    nodes: int
    cancelled_tasks: int


class TwinRunIn(_In):
    """A twin run: a built-in scenario (default: the live one) under a built-in profile."""

    scenario: ScenarioName | None = None
    profile: ScenarioName = "cats-joint"
    duration_s: Number = Field(default=600.0, gt=0, le=86_400)
    seed: Count | None = Field(default=None, ge=0, le=2**32 - 1)
    max_tasks: Count = Field(default=20_000, ge=1, le=500_000)
    rate_scale: Number = Field(default=1.0, gt=0, le=100)


class TwinRunOut(BaseModel):
    """A twin run's state; ``summary`` and ``files`` once it is done."""

    id: str
    scenario: str
    profile: str
    state: RunState
    submitted_at_s: float
    finished_at_s: float | None
    error: str
    summary: dict[str, Any] | None
    files: list[str]

    @classmethod
    def of(cls, run: TwinRun) -> TwinRunOut:
        """From the run record."""
        return cls(
            id=run.id,
            scenario=run.scenario,
            profile=run.profile,
            state=run.state,
            submitted_at_s=run.submitted_at_s,
            finished_at_s=run.finished_at_s,
            error=run.error,
            summary=run.summary,
            files=run.files,
        )


@router.get("/v1/scenarios", operation_id="listScenarios")
def list_scenarios(plane: PlaneDep, _: People) -> ScenariosOut:
    """The live scenario's name, the built-in scenarios and the built-in scheduling profiles."""
    builtins = [BuiltinOut(name=i.name, description=i.description) for i in builtin_info()]
    profiles = sorted(builtin_profiles())
    return ScenariosOut(live=plane.live.scenario.name, builtins=builtins, profiles=profiles)


@router.post("/v1/scenarios/live", operation_id="loadScenario")
async def load_scenario(body: ScenarioLoadIn, plane: PlaneDep, who: Staff) -> ScenarioLoadOut:
    """Make a built-in or uploaded scenario the live topology.

    Refused (409) while tasks are active, unless ``cancel_active``; a scenario that cannot be
    read or made live is refused (422) and leaves the live one and its file as they were.
    """
    scenario = await run_in_threadpool(body.load)
    # Building the live network and staging its file take a while: not on the event loop.
    try:
        loading = await run_in_threadpool(plane.load_scenario, who, scenario, body.cancel_active)
    except OSError as exc:
        raise ApiError(503, f"the scenario cannot be stored: {exc.strerror or exc}") from None
    cancelled = await answer(loading)
    return ScenarioLoadOut(
        live=scenario.name, nodes=len(scenario.topology.nodes), cancelled_tasks=cancelled
    )


def _runs(request: Request) -> TwinRuns:
    runs: TwinRuns = request.app.state.twin_runs
    return runs


def _visible(request: Request, run_id: str, who: Principal) -> TwinRun:
    run = _runs(request).get(run_id, tenant_scope(who))
    if run is None:
        raise ApiError(404, f"twin run {run_id!r} does not exist")
    return run


@router.post("/v1/twin-runs", operation_id="startTwinRun", status_code=202)
async def start_twin_run(
    body: TwinRunIn, request: Request, plane: PlaneDep, who: Submitter
) -> TwinRunOut:
    """Start a digital-twin run in the background; poll it with ``getTwinRun``."""
    if body.profile not in builtin_profiles():
        raise ApiError(422, f"body.profile: no built-in profile {body.profile!r}")
    if body.scenario is None:
        scenario = plane.live.scenario
    else:
        scenario = await run_in_threadpool(load_builtin, body.scenario)
    options = {
        "duration_s": body.duration_s,
        "seed": body.seed,
        "max_tasks": body.max_tasks,
        "rate_scale": body.rate_scale,
    }
    run = _runs(request).start(who.tenant, scenario, body.profile, options)
    await answer(plane.record(who, "twin.start", f"twin-run:{run.id}", scenario.name))
    return TwinRunOut.of(run)


@router.get("/v1/twin-runs", operation_id="listTwinRuns")
async def list_twin_runs(request: Request, who: Submitter) -> list[TwinRunOut]:
    """The latest twin runs of the caller's tenant (every tenant's for admins), oldest first."""
    return [TwinRunOut.of(run) for run in _runs(request).list(tenant_scope(who))]


@router.get("/v1/twin-runs/{run_id}", operation_id="getTwinRun")
async def get_twin_run(run_id: IdPath, request: Request, who: Submitter) -> TwinRunOut:
    """A twin run's state, with its summary once done."""
    return TwinRunOut.of(_visible(request, run_id, who))


@router.get("/v1/twin-runs/{run_id}/files/{name}", operation_id="getTwinRunFile")
async def get_twin_run_file(
    run_id: IdPath, name: IdPath, request: Request, who: Submitter
) -> FileResponse:
    """One file of a finished run's report (summary.json, CSVs, figures)."""
    run = _visible(request, run_id, who)
    if name not in run.files:
        raise ApiError(404, f"twin run {run_id} has no file {name!r}")
    return FileResponse(run.folder / name)
