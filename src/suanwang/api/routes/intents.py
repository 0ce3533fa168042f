"""Intents: apply (``POST /v1/intents``, ``?dry_run=true``), read, withdraw (``DELETE``).

The body is one intent as its file writes it (``suanwang intent apply -f``), as JSON. The answer
holds the derivation (each derived figure with its rule), what the live network offers (the
check's figures), the conflicts found and the fork's prediction; applied (201), also the stored
intent with its id, status, tasks and the prediction stored with it; a dry run (200) places and
stores nothing. A read also answers ``assurance``: the SLA share measured over the window
against the predicted one. A bad intent is
a 422 naming ``field`` and ``value``; a refused one a 422 whose ``conflicts`` name the
constraints in conflict (nothing is placed; audited ``intent.refused`` unless a dry run). Reads
and withdrawals are scoped to the principal's tenant (admins see all; another tenant's intent
is a 404); a staff read of another tenant's intent is audited as ``access.read``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from suanwang.api.access import audit_read
from suanwang.api.auth import PEOPLE, SUBMITTERS, allow, tenant_scope
from suanwang.api.deps import IdPath, PlaneDep
from suanwang.api.problems import ApiError
from suanwang.control.intents import IntentPrediction, IntentRecord
from suanwang.control.stores import NotFoundError, Principal
from suanwang.scenario import ScenarioError, format_path
from suanwang.scenario.intent import Derivation, translate
from suanwang.service.intents import IntentRefusedError, Intents, Plan
from suanwang.service.plane import ControlPlane

router = APIRouter(tags=["intents"])

People = Annotated[Principal, Depends(allow(*PEOPLE))]
Submitter = Annotated[Principal, Depends(allow(*SUBMITTERS))]
IntentBody = Annotated[dict[str, Any], Body(description="One intent as its file writes it")]


class DerivationOut(BaseModel):
    """A derived figure and the rule that produced it."""

    field: str
    value: str
    rule: str


def _derivations(rows: tuple[Derivation, ...]) -> list[DerivationOut]:
    return [DerivationOut(field=d.field, value=d.value, rule=d.rule) for d in rows]


class ConflictOut(BaseModel):
    """Constraints that cannot hold together now."""

    kind: str
    constraints: list[str]
    message: str


class CheckOut(BaseModel):
    """What the live network offers the intent now (the check before the fork)."""

    room_for: int
    best_latency_ms: float | None
    cheapest_cost: float | None


class PredictionOut(BaseModel):
    """What the fork of the live plane predicts for the intent's tasks."""

    sla_met_fraction: float
    placed: int
    rejected: int
    cost: float
    carbon_g: float
    per_task: dict[str, str]
    horizon_s: float


class StoredPredictionOut(BaseModel):
    """The fork's prediction stored with the intent when it was applied."""

    sla_met_fraction: float
    cost: float
    carbon_g: float
    sites: list[str]
    nodes: list[str]
    forked_at_s: float
    horizon_s: float

    @classmethod
    def of(cls, predicted: IntentPrediction | None) -> StoredPredictionOut | None:
        """From the stored prediction (None: none stored)."""
        if predicted is None:
            return None
        return cls(
            sla_met_fraction=predicted.sla_met_fraction,
            cost=predicted.cost,
            carbon_g=predicted.carbon_g,
            sites=list(predicted.sites),
            nodes=list(predicted.nodes),
            forked_at_s=predicted.forked_at_s,
            horizon_s=predicted.horizon_s,
        )


class AssuranceOut(BaseModel):
    """The SLA share assurance measures over the window now, against the predicted one.

    ``style``: ``service`` (share of time the replicas serve) or ``request`` (share of the
    ended requests within budget); ``measured`` is null before the first assessment since the
    server started; ``judged``: samples or requests in the window.
    """

    style: str
    measured: float | None
    judged: int
    predicted: float | None


class StatusChangeOut(BaseModel):
    """One step of an intent's status history."""

    at_s: float
    status: str
    availability: float
    reason: str


class IntentOut(BaseModel):
    """A stored intent."""

    id: str
    name: str
    tenant: str
    who: str
    status: str
    task_ids: list[str]
    created_at_s: float
    body: dict[str, Any]
    history: list[StatusChangeOut]
    prediction: StoredPredictionOut | None = None

    @classmethod
    def of(cls, record: IntentRecord) -> IntentOut:
        """From the stored record."""
        return cls(
            id=record.id,
            name=record.name,
            tenant=record.tenant,
            who=record.who,
            status=record.status.value,
            task_ids=list(record.task_ids),
            created_at_s=record.created_at_s,
            body=record.body,
            history=[
                StatusChangeOut(
                    at_s=c.at_s,
                    status=c.status.value,
                    availability=c.availability,
                    reason=c.reason,
                )
                for c in record.history
            ],
            prediction=StoredPredictionOut.of(record.prediction),
        )


class IntentTaskOut(BaseModel):
    """One of an intent's tasks now: its state and node (null while not placed)."""

    id: str
    state: str
    node_id: str | None


class IntentDetailOut(IntentOut):
    """A stored intent with its derivation (by today's catalogue) and its tasks' states."""

    derivations: list[DerivationOut]
    tasks: list[IntentTaskOut]
    assurance: AssuranceOut


class PlanOut(BaseModel):
    """An intent planned and, unless a dry run, applied."""

    name: str
    dry_run: bool
    profile: str
    replicas: int
    derivations: list[DerivationOut]
    check: CheckOut
    conflicts: list[ConflictOut]
    prediction: PredictionOut | None
    intent: IntentOut | None = None

    @classmethod
    def of(cls, plan: Plan, record: IntentRecord | None, dry_run: bool) -> PlanOut:
        """From the plan and the stored record (None for a dry run)."""
        translation, predicted, check = plan.translation, plan.prediction, plan.check
        return cls(
            name=translation.intent.name,
            dry_run=dry_run,
            profile=translation.profile,
            replicas=len(translation.specs),
            derivations=_derivations(translation.derivations),
            check=CheckOut(
                room_for=check.room_for,
                best_latency_ms=check.best_latency_ms,
                cheapest_cost=check.cheapest_cost,
            ),
            conflicts=[
                ConflictOut(kind=c.kind, constraints=list(c.constraints), message=c.message)
                for c in plan.refusals
            ],
            prediction=None
            if predicted is None
            else PredictionOut(
                sla_met_fraction=predicted.sla_met_fraction,
                placed=predicted.placed,
                rejected=predicted.rejected,
                cost=predicted.cost,
                carbon_g=predicted.carbon_g,
                per_task=dict(predicted.per_task),
                horizon_s=predicted.horizon_s,
            ),
            intent=None if record is None else IntentOut.of(record),
        )


def _intents(plane: ControlPlane) -> Intents:
    if plane.intents is None:
        raise ApiError(503, "this server keeps no intents")
    return plane.intents


def _shown(value: object) -> object:
    return value if isinstance(value, str | int | float | bool) or value is None else repr(value)


def _bad_intent(error: ScenarioError) -> ApiError:
    field = f"body.{format_path(error.path)}" if error.path else "body"
    value = _shown(error.value) if error.has_value else None
    errors = [{"path": field, "message": error.message}]
    return ApiError(422, str(error), field=field, value=value, errors=errors)


def _detail(plane: ControlPlane, intents: Intents, record: IntentRecord) -> IntentDetailOut:
    try:
        derivations = translate(intents.parse(record.body, f"intent:{record.id}")).derivations
    except ValueError:  # the catalogue no longer holds its need: the record still reads back
        derivations = ()
    tasks = []
    for task_id in record.task_ids:
        task = plane.tasks.get(task_id, record.tenant)
        node = None if task is None or task.placement is None else task.placement.node_id
        state = "unknown" if task is None else task.state.value
        tasks.append(IntentTaskOut(id=task_id, state=state, node_id=node))
    out = IntentOut.of(record).model_dump()
    measured = intents.measured(record)
    assurance = AssuranceOut(
        style=measured.style,
        measured=measured.measured,
        judged=measured.judged,
        predicted=measured.predicted,
    )
    return IntentDetailOut(
        **out, derivations=_derivations(derivations), tasks=tasks, assurance=assurance
    )


@router.post("/v1/intents", operation_id="applyIntent", status_code=201)
async def apply_intent(
    body: IntentBody,
    plane: PlaneDep,
    who: Submitter,
    response: Response,
    dry_run: Annotated[bool, Query(description="Plan and predict only")] = False,
) -> PlanOut:
    """Translate, check and predict an intent; unless ``dry_run``, place it live and store it."""
    intents = _intents(plane)
    try:
        doc = intents.parse(body, "body")
        plan, record = await run_in_threadpool(intents.apply, who, doc, dry_run=dry_run)
    except ScenarioError as error:
        raise _bad_intent(error) from None
    except IntentRefusedError as error:
        out = PlanOut.of(error.plan, None, dry_run)
        conflicts = [c.model_dump() for c in out.conflicts]
        raise ApiError(422, str(error), conflicts=conflicts, plan=out.model_dump()) from None
    except TimeoutError:
        raise ApiError(503, "the control plane did not answer in time; try again") from None
    except ValueError as error:  # the translation breaks a rule; the message names the field
        raise ApiError(422, str(error)) from None
    if dry_run:
        response.status_code = 200
    return PlanOut.of(plan, record, dry_run)


@router.get("/v1/intents", operation_id="listIntents")
def list_intents(request: Request, plane: PlaneDep, who: People) -> list[IntentOut]:
    """The intents of the principal's tenant (every tenant's for admins), oldest first."""
    records = _intents(plane).list(tenant_scope(who))
    audit_read(request, who, "intents", (r.tenant for r in records))
    return [IntentOut.of(r) for r in records]


@router.get("/v1/intents/{intent_id}", operation_id="getIntent")
def get_intent(
    intent_id: IdPath, request: Request, plane: PlaneDep, who: People
) -> IntentDetailOut:
    """One intent with its derivation, its tasks' states and its status history."""
    intents = _intents(plane)
    record = intents.get(intent_id, tenant_scope(who))
    if record is None:
        raise NotFoundError(f"intent {intent_id!r} does not exist")
    audit_read(request, who, f"intent:{intent_id}", [record.tenant])
    return _detail(plane, intents, record)


@router.delete("/v1/intents/{intent_id}", operation_id="withdrawIntent")
async def withdraw_intent(intent_id: IdPath, plane: PlaneDep, who: Submitter) -> IntentOut:
    """Withdraw an intent: its live tasks are cancelled and it is stored ``withdrawn``."""
    intents = _intents(plane)
    try:
        record = await run_in_threadpool(intents.withdraw, who, intent_id, tenant_scope(who))
    except TimeoutError:
        raise ApiError(503, "the control plane did not answer in time; try again") from None
    return IntentOut.of(record)
