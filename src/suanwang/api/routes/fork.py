"""``POST /v1/twin/fork``: what-ifs run in a fork of the live plane (``service.fork``).

Staff only (admins, operators): a fork copies every tenant's running tasks. The body names the
extra tasks (task specs as ``POST /v1/tasks`` takes them), the sites that fail, the load factor
of the forecast background, the horizon and when the run starts (``at_hour``: the next time the
UTC clock reads that hour; ``at_s``: a clock time; neither: now). The answer is the prediction;
nothing is placed and nothing is stored.
"""

from __future__ import annotations

import concurrent.futures
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from suanwang.api.auth import STAFF, allow
from suanwang.api.deps import PlaneDep
from suanwang.api.problems import ApiError
from suanwang.api.schemas import Name, TaskSpecIn
from suanwang.control.stores import Principal
from suanwang.model import TaskSpec
from suanwang.service.fork import ForkPrediction, fork_live, next_hour_s
from suanwang.service.plane import ControlPlane
from suanwang.twin.forkrun import MAX_HORIZON_S

router = APIRouter(tags=["twin"])

Staff = Annotated[Principal, Depends(allow(*STAFF))]
MAX_TASKS = 1000
"""Most extra tasks one what-if names."""
MAX_LOAD_FACTOR = 100.0
"""Largest multiplier of the background load."""


class ForkIn(BaseModel):
    """A what-if on the live plane."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    tasks: list[TaskSpecIn] = Field(default_factory=list, max_length=MAX_TASKS)
    horizon_s: float = Field(default=3600.0, gt=0, le=MAX_HORIZON_S)
    load_factor: float = Field(default=1.0, ge=0, le=MAX_LOAD_FACTOR)
    fail_sites: list[Name] = Field(default_factory=list, max_length=1000)
    background: bool = Field(default=True, description="Add the forecast background load.")
    at_hour: float | None = Field(default=None, ge=0, lt=24, description="Start at this UTC hour.")
    at_s: float | None = Field(default=None, gt=0, description="Start at this clock time.")
    seed: int = Field(default=0, ge=0, le=2**32 - 1)

    @model_validator(mode="after")
    def _one_start(self) -> ForkIn:
        if self.at_hour is not None and self.at_s is not None:
            raise ValueError("give at_hour or at_s, not both")
        return self


class ForkOut(BaseModel):
    """The prediction of a what-if (judged: the extra tasks, else every task in the run)."""

    sla_met_fraction: float
    placed: int
    rejected: int
    cost: float
    carbon_g: float
    per_task: dict[str, str] = Field(description="Task id -> node id ('' when not placed).")
    horizon_s: float
    background: int = Field(description="Background arrivals from the demand forecast.")
    displaced: int = Field(description="Running tasks displaced by the failed sites.")
    residents: int = Field(description="Tasks holding reservations at the fork.")
    start_s: float = Field(description="Clock time the run ahead started at.")


def _specs(plane: ControlPlane, tasks: list[TaskSpecIn]) -> list[TaskSpec]:
    workload = plane.live.scenario.workload
    specs = []
    for i, task in enumerate(tasks):
        try:
            specs.append(task.to_spec(workload))
        except ValueError as exc:
            raise ApiError(422, f"body.tasks.{i}: {exc}") from None
    return specs


def _run(plane: ControlPlane, body: ForkIn) -> tuple[ForkPrediction, float]:
    specs = _specs(plane, body.tasks)
    sites = plane.live.scenario.topology.sites
    for i, site in enumerate(body.fail_sites):
        if site not in sites:
            raise ApiError(422, f"body.fail_sites.{i}: no site {site!r} in the live topology")
    now_s = plane.clock.now_s()
    at_s = body.at_s
    if body.at_hour is not None:
        at_s = next_hour_s(now_s, body.at_hour)
    try:
        fork = fork_live(plane, at_s=None if at_s is None else max(at_s, now_s))
    except concurrent.futures.TimeoutError:
        raise ApiError(503, "the control plane did not take the fork in time") from None
    prediction = fork.run_ahead(
        specs,
        body.horizon_s,
        load_factor=body.load_factor,
        fail_sites=body.fail_sites,
        background=body.background,
        seed=body.seed,
    )
    return prediction, fork.start_s


@router.post("/v1/twin/fork", operation_id="forkTwin")
async def fork_twin(body: ForkIn, plane: PlaneDep, _: Staff) -> ForkOut:
    """Run a what-if in a fork of the live plane and answer its prediction."""
    prediction, start_s = await run_in_threadpool(_run, plane, body)
    return ForkOut(
        sla_met_fraction=prediction.sla_met_fraction,
        placed=prediction.placed,
        rejected=prediction.rejected,
        cost=prediction.cost,
        carbon_g=prediction.carbon_g,
        per_task=dict(prediction.per_task),
        horizon_s=prediction.horizon_s,
        background=prediction.background,
        displaced=prediction.displaced,
        residents=prediction.residents,
        start_s=start_s,
    )
