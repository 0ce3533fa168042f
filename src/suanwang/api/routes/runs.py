"""Runs on agents: which to kill (cancelled or moved), the kills confirmed, and the runs' logs.

An agent that holds runs names them (``POST /v1/agents/{node}/runs``) at its poll pace; the
answer lists the runs the control plane cancelled or moved off the node since, which the agent
kills at once. The next call confirms each kill with the run's logs; the dispatch records the
time from the withdrawal to the kill and an audit entry ``task.killed`` says so. A run that ends
on its own has its logs sent before its finished report (``PUT .../runs/{run}/logs``). People
read a task's logs at ``GET /v1/tasks/{id}/logs``, one entry per run (a moved task has two).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from suanwang.api.access import audit_read
from suanwang.api.auth import PEOPLE, allow, tenant_scope
from suanwang.api.deps import IdPath, PlaneDep
from suanwang.api.problems import ApiError
from suanwang.api.schemas import Name
from suanwang.control.stores import Principal, Role
from suanwang.service.runlogs import MAX_STREAM_CHARS, RunLog, task_of_run

router = APIRouter(tags=["agents"])

Agent = Annotated[Principal, Depends(allow(Role.AGENT))]
People = Annotated[Principal, Depends(allow(*PEOPLE))]
MAX_RUNS = 1000
"""Most runs one call names (an agent runs far fewer at once)."""

Stream = Annotated[str, Field(default="", max_length=MAX_STREAM_CHARS)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KilledIn(_In):
    """A withdrawn run the agent killed, with what it had written."""

    run_id: Name
    stdout: Stream = ""
    stderr: Stream = ""


class RunsIn(_In):
    """The runs the agent holds now, and the withdrawn runs it killed since its last call."""

    running: list[Name] = Field(default_factory=list, max_length=MAX_RUNS)
    killed: list[KilledIn] = Field(default_factory=list, max_length=MAX_RUNS)


class RunsOut(BaseModel):
    """Runs to kill now, and the kills the control plane recorded."""

    node_id: str
    withdrawn: list[str] = Field(description="Runs cancelled or moved off the node: kill them.")
    confirmed: list[str] = Field(description="Kills recorded (runs withdrawn from this node).")


class RunLogsIn(_In):
    """How a run ended on the agent and its stdout and stderr (bounded by the agent)."""

    outcome: str = Field(min_length=1, max_length=40)
    stdout: Stream = ""
    stderr: Stream = ""


class RunLogOut(BaseModel):
    """One run's logs."""

    run_id: str
    node_id: str
    outcome: str
    stdout: str
    stderr: str
    at_s: float

    @classmethod
    def of(cls, log: RunLog) -> RunLogOut:
        """The answer for one kept log."""
        return cls(
            run_id=log.run_id,
            node_id=log.node_id,
            outcome=log.outcome,
            stdout=log.stdout,
            stderr=log.stderr,
            at_s=log.at_s,
        )


class TaskLogsOut(BaseModel):
    """The logs of a task's runs, oldest first (none before a run ended)."""

    task_id: str
    runs: list[RunLogOut]


def _own(who: Principal, node_id: str) -> None:
    if node_id not in who.node_ids:
        raise ApiError(403, f"this agent does not speak for node {node_id}")


@router.post("/v1/agents/{node_id}/runs", operation_id="syncRuns")
def sync_runs(node_id: IdPath, body: RunsIn, plane: PlaneDep, who: Agent) -> RunsOut:
    """Which of the agent's runs to kill; the kills it confirms are recorded and audited."""
    _own(who, node_id)
    dispatch = plane.live.dispatch
    confirmed = []
    for killed in body.killed:
        after_s = dispatch.confirm_killed(node_id, killed.run_id)
        if after_s is None:
            continue
        confirmed.append(killed.run_id)
        log = RunLog(killed.run_id, node_id, "cancelled", killed.stdout, killed.stderr, time.time())
        plane.run_logs.put(log)
        detail = f"run {killed.run_id} killed on {node_id} {after_s:.3f} s after its withdrawal"
        plane.record(who, "task.killed", f"task:{task_of_run(killed.run_id)}", detail)
    withdrawn = dispatch.withdrawn(node_id, body.running)
    return RunsOut(node_id=node_id, withdrawn=withdrawn, confirmed=confirmed)


@router.put("/v1/agents/{node_id}/runs/{run_id}/logs", operation_id="putRunLogs")
def put_run_logs(
    node_id: IdPath, run_id: IdPath, body: RunLogsIn, plane: PlaneDep, who: Agent
) -> RunLogOut:
    """The logs of a run of the node that ended, sent before its finished report."""
    _own(who, node_id)
    if plane.live.dispatch.node_of(run_id) != node_id:
        raise ApiError(404, f"run {run_id!r} is not dispatched to node {node_id}")
    log = RunLog(run_id, node_id, body.outcome, body.stdout, body.stderr, time.time())
    plane.run_logs.put(log)
    return RunLogOut.of(log)


@router.get("/v1/tasks/{task_id}/logs", operation_id="getTaskLogs")
def get_task_logs(task_id: IdPath, request: Request, plane: PlaneDep, who: People) -> TaskLogsOut:
    """The stdout and stderr of the task's runs that ended (bounded: first and last parts)."""
    task = plane.tasks.get(task_id, tenant_scope(who))
    if task is None:
        raise ApiError(404, f"task {task_id!r} does not exist")
    audit_read(request, who, f"task-logs:{task_id}", [task.tenant])
    runs = [RunLogOut.of(log) for log in plane.run_logs.of_task(task_id)]
    return TaskLogsOut(task_id=task_id, runs=runs)
