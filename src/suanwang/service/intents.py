"""Intents as use-cases: plan (translate, check, predict), apply, and keep them true.

``plan`` translates an intent by the catalogue's rules, looks for conflicts between its
constraints on the live state (``intent_check``) and, where there are none, predicts its SLA,
cost and carbon in a twin forked from the live plane at that moment (``fork``), the copy taken
in the same writer command as the check. ``apply`` refuses an intent with conflicts, or one the
fork predicts not all placed, naming the constraints; otherwise it submits the intent's tasks to
the live plane (one idempotency key per replica, so a retry submits nothing twice), stores the
intent with the fork's prediction (``IntentPrediction``: SLA share, cost, carbon, each
replica's predicted site and node, the fork's time and horizon) and audits it.

Assurance (``intent_assurance``, mixed in) keeps each applied intent true: measured over its
window against the prediction, its status changed with a reason, repaired where replicas stop
serving. ``withdraw`` cancels an intent's live tasks and stores it withdrawn
(``intent.withdraw``); assurance leaves it alone from then on.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from suanwang.control.intents import (
    IntentPrediction,
    IntentRecord,
    IntentStatus,
    IntentStore,
    StatusChange,
)
from suanwang.control.stores import ConflictError, NotFoundError, Principal
from suanwang.model import TaskSpec
from suanwang.scenario.intent import IntentDoc, Translation, intent_from_data, translate
from suanwang.scenario.intent.catalogue import default_catalogue
from suanwang.scheduling import resolve_profile
from suanwang.service.fork import ForkPrediction, LiveFork, fork_network
from suanwang.service.intent_assurance import WAIT_S, AssuranceConfig, AssuranceMixin, Measured
from suanwang.service.intent_check import CheckResult, Conflict, check_intent
from suanwang.service.intent_ingress import with_ingress
from suanwang.service.intent_window import RequestWindow, SlaWindow
from suanwang.twin.forkrun import WHAT_IF_PREFIX

if TYPE_CHECKING:
    from suanwang.service.plane import ControlPlane

__all__ = ["AssuranceConfig", "IntentRefusedError", "Intents", "Measured", "Plan"]


class IntentRefusedError(ValueError):
    """An intent whose constraints conflict, or that the fork predicts cannot be placed."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        named = "; ".join(f"{' vs '.join(c.constraints)}: {c.message}" for c in plan.refusals)
        super().__init__(f"intent {plan.translation.intent.name} refused: {named}")


@dataclass(frozen=True, slots=True)
class Plan:
    """An intent translated, checked and predicted.

    Attributes:
        translation: Its task specs, profile, constraints and derivations.
        check: The conflicts and figures of the check on the live state.
        prediction: The fork's prediction (None when the check found conflicts).
        specs: The tasks checked and run ahead (all the replicas, or those a repair replaces).
        forked_at_s: Clock time the live plane was forked (and checked) at.
    """

    translation: Translation
    check: CheckResult
    prediction: ForkPrediction | None
    specs: tuple[TaskSpec, ...]
    forked_at_s: float = 0.0

    @property
    def refusals(self) -> tuple[Conflict, ...]:
        """Why the intent cannot be applied now (empty: it can)."""
        found = list(self.check.conflicts)
        prediction, count = self.prediction, len(self.specs)
        if prediction is not None and prediction.placed < count:
            found.append(
                Conflict(
                    "fork-prediction",
                    ("coverage", "quality"),
                    f"the fork run ahead {prediction.horizon_s:g} s places {prediction.placed} "
                    f"of the {count} replicas",
                )
            )
        return tuple(found)


class Intents(AssuranceMixin):
    """The plane's intents (see the module docstring)."""

    def __init__(
        self, plane: ControlPlane, store: IntentStore, config: AssuranceConfig | None = None
    ) -> None:
        self.plane, self.store = plane, store
        self.config = config or AssuranceConfig()
        self._windows: dict[str, SlaWindow | RequestWindow] = {}
        self._repaired_at: dict[str, float] = {}
        self._lock = threading.Lock()  # one assessment or apply at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- planning

    def parse(self, data: Any, source: str = "<request>") -> IntentDoc:
        """Check plain data as an intent (``ScenarioError`` naming field and value)."""
        return intent_from_data(data, source, default_catalogue())

    def plan(self, doc: IntentDoc, tenant: str, *, extra: Sequence[TaskSpec] = ()) -> Plan:
        """Translate, check and predict ``doc`` for ``tenant`` (see the module docstring).

        The fork places the intent's tasks as ``tenant``'s, so leases bind them as they would
        live.

        Raises:
            ValueError: the translation breaks a rule (named).
        """
        translation = self._translate(doc)
        return self._plan(translation, translation.specs, extra, tenant)

    def _translate(self, doc: IntentDoc) -> Translation:
        """``translate`` with ingress sites for a region-only coverage (``intent_ingress``)."""
        return with_ingress(translate(doc), self.plane.live.scenario.topology)

    def _plan(
        self,
        translation: Translation,
        specs: Sequence[TaskSpec],
        extra: Sequence[TaskSpec],
        tenant: str,
    ) -> Plan:
        plane = self.plane
        profile = resolve_profile(translation.profile)

        def on_writer(_: object) -> tuple[CheckResult, LiveFork]:
            state = plane.live.controller.state
            return (
                check_intent(state, profile, dataclasses.replace(translation, specs=tuple(specs))),
                fork_network(plane.live, plane.clock.now_s(), plane.stores.tasks),
            )

        check, fork = plane.call(on_writer).result(WAIT_S)
        prediction = None
        if check.feasible:
            prediction = fork.run_ahead([*specs, *extra], self.config.horizon_s, tenant=tenant)
        return Plan(translation, check, prediction, tuple(specs), fork.start_s)

    def apply(
        self, who: Principal, doc: IntentDoc, *, dry_run: bool = False, intent_id: str | None = None
    ) -> tuple[Plan, IntentRecord | None]:
        """Plan ``doc`` and, unless ``dry_run``, place its tasks live and store it.

        Raises:
            IntentRefusedError: it has conflicts or the fork does not place it all (audited as
                ``intent.refused`` with the constraints, unless a dry run).
            ValueError: the translation breaks a rule (named).
        """
        plan = self.plan(doc, who.tenant)
        if plan.refusals:
            if not dry_run:
                detail = "; ".join(f"{c.kind}: {' vs '.join(c.constraints)}" for c in plan.refusals)
                self.plane.record(who, "intent.refused", f"intent:{doc.name}", detail)
            raise IntentRefusedError(plan)
        if dry_run:
            return plan, None
        intent_id = intent_id or uuid.uuid4().hex
        with self._lock:
            task_ids = self._submit(who, intent_id, "", plan.translation.specs)
            now_s = self.plane.clock.now_s()
            predicted = plan.prediction
            assert predicted is not None  # no refusal: the fork ran
            reason = (
                f"applied: {len(task_ids)} tasks submitted live; the fork predicted SLA met "
                f"{predicted.sla_met_fraction:.2f}, cost {predicted.cost:.4g}, "
                f"carbon {predicted.carbon_g:.4g} g"
            )
            stored = self._prediction(plan, len(task_ids))
            record = IntentRecord(
                intent_id,
                who.tenant,
                who.id,
                doc.name,
                doc.model_dump(mode="json", exclude_none=True),
                task_ids,
                IntentStatus.MET,
                (StatusChange(now_s, IntentStatus.MET, 1.0, reason),),
                now_s,
                stored,
            )
            self.store.save(record)
            self.plane.record(who, "intent.apply", f"intent:{intent_id}", reason).result(WAIT_S)
        return plan, record

    def _prediction(self, plan: Plan, replicas: int) -> IntentPrediction:
        """The fork's prediction of ``plan`` as stored with the intent."""
        predicted = plan.prediction
        assert predicted is not None  # no refusal: the fork ran
        nodes = tuple(predicted.per_task.get(f"{WHAT_IF_PREFIX}{i}", "") for i in range(replicas))
        topology = self.plane.live.scenario.topology
        sites = tuple(topology.nodes[n].site_id if n in topology.nodes else "" for n in nodes)
        return IntentPrediction(
            predicted.sla_met_fraction,
            predicted.cost,
            predicted.carbon_g,
            sites,
            nodes,
            plan.forked_at_s,
            predicted.horizon_s,
        )

    def _submit(
        self, who: Principal, intent_id: str, round_: str, specs: Sequence[TaskSpec]
    ) -> tuple[str, ...]:
        futures = [
            self.plane.submit(who, spec, f"intent:{intent_id}:{round_}{i}")
            for i, spec in enumerate(specs)
        ]
        return tuple(f.result(WAIT_S).task.id for f in futures)

    # ----------------------------------------------------------------- withdrawal

    def withdraw(self, who: Principal, intent_id: str, scope: str | None) -> IntentRecord:
        """Cancel the intent's live tasks, store it ``withdrawn`` and audit ``intent.withdraw``.

        Assurance leaves a withdrawn intent alone from then on. Withdrawing one already
        withdrawn changes nothing and answers it as stored.

        Raises:
            NotFoundError: no intent of that id (in tenant ``scope`` when given).
        """
        with self._lock:
            record = self.store.get(intent_id, scope)
            if record is None:
                raise NotFoundError(f"intent {intent_id!r} does not exist")
            if record.status is IntentStatus.WITHDRAWN:
                return record
            tasks = self._read_tasks(list(record.task_ids))
            cancelled = 0
            for task_id in record.task_ids:
                task, _ = tasks[task_id]
                if task is None or task.state.is_terminal:
                    continue
                try:
                    self.plane.cancel(who, task_id, None).result(WAIT_S)
                    cancelled += 1
                except ConflictError:  # it ended between the read and the cancel
                    continue
            window = self._windows.pop(intent_id, None)
            self._repaired_at.pop(intent_id, None)
            availability = 1.0 if window is None else window.availability
            reason = f"withdrawn by {who.id}: {cancelled} live task(s) cancelled"
            change = StatusChange(
                self.plane.clock.now_s(), IntentStatus.WITHDRAWN, availability, reason
            )
            updated = dataclasses.replace(
                record, status=IntentStatus.WITHDRAWN, history=(*record.history, change)
            )
            self.store.save(updated)
            self.plane.record(who, "intent.withdraw", f"intent:{intent_id}", reason).result(WAIT_S)
        return updated

    def get(self, intent_id: str, scope: str | None) -> IntentRecord | None:
        """The intent (of tenant ``scope`` when given), or None."""
        return self.store.get(intent_id, scope)

    def list(self, scope: str | None) -> list[IntentRecord]:
        """Every intent (of tenant ``scope`` when given), oldest first."""
        return self.store.list(scope)
