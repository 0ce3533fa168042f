"""Intents as use-cases: plan (translate, check, predict), apply, and keep them true.

``plan`` translates an intent by the catalogue's rules, looks for conflicts between its
constraints on the live state (``intent_check``) and, where there are none, predicts its SLA,
cost and carbon in a twin forked from the live plane at that moment (``fork``), the copy taken
in the same writer command as the check. ``apply`` refuses an intent with conflicts, or one the
fork predicts not all placed, naming the constraints; otherwise it submits the intent's tasks to
the live plane (one idempotency key per replica, so a retry submits nothing twice), stores the
intent with the fork's prediction (``IntentPrediction``: SLA share, cost, carbon, each
replica's predicted site and node, the fork's time and horizon) and audits it.

Assurance (``assess``, every ``interval_s`` on a thread of its own): each applied intent is
measured over its window by its style (``intent_window``: the share of time a service-style
intent's replicas serve; the share of a request-style intent's ended requests within budget);
a change of status is stored with its reason, the measured share against the predicted one,
and audited (``measured`` answers both now); an intent at risk or violated with replicas not
serving is repaired: the replacements are first
run ahead in a fresh fork, and only when the fork places them all are the broken tasks
cancelled and submitted again (``intent.repair``); otherwise the attempt is audited
(``intent.repair-deferred``) and tried again after ``repair_backoff_s``. A restart starts each
intent's window afresh. ``withdraw`` cancels an intent's live tasks and stores it withdrawn
(``intent.withdraw``); assurance leaves it alone from then on.
"""

from __future__ import annotations

import dataclasses
import logging
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
from suanwang.control.stores import ConflictError, NotFoundError, Principal, Role, StoreError
from suanwang.model import Task, TaskSpec, TaskState
from suanwang.scenario.intent import IntentDoc, Translation, intent_from_data, translate
from suanwang.scenario.intent.catalogue import default_catalogue
from suanwang.scheduling import resolve_profile
from suanwang.service.fork import ForkPrediction, LiveFork, fork_network
from suanwang.service.intent_check import CheckResult, Conflict, check_intent
from suanwang.service.intent_ingress import with_ingress
from suanwang.service.intent_window import (
    RequestWindow,
    Sample,
    SlaWindow,
    Style,
    serving,
    style_of,
)
from suanwang.twin.forkrun import WHAT_IF_PREFIX

if TYPE_CHECKING:
    from suanwang.service.plane import ControlPlane

log = logging.getLogger(__name__)
_WAIT_S = 60.0
"""Longest a use-case waits for the writer."""


@dataclass(frozen=True, slots=True)
class AssuranceConfig:
    """Tunables of planning and assurance.

    Attributes:
        horizon_s: Simulated seconds a fork runs ahead for a prediction.
        window_s: Length of the sliding window of measured SLA.
        interval_s: Time between assessments (the thread's period).
        start_grace_s: How long a placed replica counts as serving before its agent reports it
            started.
        repair_backoff_s: Least time between two repair attempts of one intent.
    """

    horizon_s: float = 300.0
    window_s: float = 300.0
    interval_s: float = 5.0
    start_grace_s: float = 60.0
    repair_backoff_s: float = 30.0

    def __post_init__(self) -> None:
        for name, value in dataclasses.asdict(self).items():
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")


@dataclass(frozen=True, slots=True)
class Measured:
    """An intent's SLA as assurance measures it now, against the fork's prediction.

    Attributes:
        style: ``service`` (share of time serving) or ``request`` (share of ended requests
            within budget).
        measured: The window's share (None before the first assessment since the start).
        judged: Samples (service-style) or requests (request-style) in the window.
        predicted: The fork's predicted share at apply time (None: not stored).
    """

    style: Style
    measured: float | None
    judged: int
    predicted: float | None


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


class Intents:
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

        check, fork = plane.call(on_writer).result(_WAIT_S)
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
            self.plane.record(who, "intent.apply", f"intent:{intent_id}", reason).result(_WAIT_S)
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
        return tuple(f.result(_WAIT_S).task.id for f in futures)

    # ----------------------------------------------------------------- assurance

    def start(self) -> None:
        """Assess every ``interval_s`` on a thread until ``stop``."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="intent-assurance", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the assessments (the running one finishes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=_WAIT_S)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.config.interval_s):
            try:
                self.assess()
            except (StoreError, TimeoutError, RuntimeError):
                log.warning("intent assessment failed; tried again next period", exc_info=True)

    def assess(self) -> list[IntentRecord]:
        """One round of assurance over every applied intent; returns those that changed."""
        with self._lock:
            records = [r for r in self.store.list() if r.status is not IntentStatus.WITHDRAWN]
            if not records:
                return []
            tasks = self._read_tasks([t for r in records for t in r.task_ids])
            changed = []
            for record in records:
                updated = self._assess_one(record, tasks)
                if updated is not record:
                    changed.append(updated)
            return changed

    def _read_tasks(self, task_ids: list[str]) -> dict[str, tuple[Task | None, bool]]:
        """Each task's latest record and whether its node is up (read on the writer)."""
        plane = self.plane

        def on_writer(_: object) -> dict[str, tuple[Task | None, bool]]:
            controller, live = plane.live.controller, plane.live
            found: dict[str, tuple[Task | None, bool]] = {}
            for task_id in task_ids:
                task = controller.task(task_id) or plane.stores.tasks.get(task_id)
                node = None if task is None or task.placement is None else task.placement.node_id
                found[task_id] = (task, node is not None and live.node_state(node) == "up")
            return found

        return plane.call(on_writer).result(_WAIT_S)

    def _assess_one(
        self, record: IntentRecord, tasks: dict[str, tuple[Task | None, bool]]
    ) -> IntentRecord:
        translation = self._translate(self.parse(record.body, f"intent:{record.id}"))
        target_ms, now_s = translation.latency_target_ms, self.plane.clock.now_s()
        grace_s = self.config.start_grace_s
        serves = [
            serving(*tasks[task_id], target_ms, now_s, grace_s) for task_id in record.task_ids
        ]
        window = self._window(record.id, translation)
        if isinstance(window, RequestWindow):
            window.begin(now_s)
            for task_id, serves_now in zip(record.task_ids, serves, strict=True):
                window.observe(tasks[task_id][0], serves_now, now_s)
            # A request that completed is done, not broken; one that failed is run again.
            done = [_completed(tasks[t][0]) for t in record.task_ids]
            broken = [i for i, ok in enumerate(serves) if not ok and not done[i]]
        else:
            broken = [i for i, ok in enumerate(serves) if not ok]
            replicas = len(record.task_ids)
            window.add(Sample(now_s, replicas - len(broken), replicas, translation.needed))
        status, reason = window.status()
        if record.prediction is not None:
            reason += (
                f" (measured {window.availability:.3f} against the predicted "
                f"{record.prediction.sla_met_fraction:.3f})"
            )
        updated = record
        if status is not record.status:
            updated = self._set_status(record, status, window.availability, reason)
        if broken and status is not IntentStatus.MET:
            updated = self._repair(updated, translation, broken, tasks)
        return updated

    def _window(self, intent_id: str, translation: Translation) -> SlaWindow | RequestWindow:
        """The intent's window, made for its style at its first assessment since the start."""
        window = self._windows.get(intent_id)
        if window is None:
            window_s, target = self.config.window_s, translation.availability
            if style_of(translation.specs) == "request":
                window = RequestWindow(window_s, target)
            else:
                window = SlaWindow(window_s, target)
            self._windows[intent_id] = window
        return window

    def measured(self, record: IntentRecord) -> Measured:
        """``record``'s SLA measured over its window now, against its prediction."""
        predicted = None if record.prediction is None else record.prediction.sla_met_fraction
        # Without the lock: a read must not wait for a repair's fork; a dict read is atomic.
        window = self._windows.get(record.id)
        if isinstance(window, RequestWindow):
            return Measured("request", window.availability, window.judged, predicted)
        if window is not None:
            return Measured("service", window.availability, len(window.samples), predicted)
        try:
            style = style_of(self._translate(self.parse(record.body)).specs)
        except ValueError:  # the catalogue no longer holds its need
            style = "service"
        return Measured(style, None, 0, predicted)

    def _set_status(
        self, record: IntentRecord, status: IntentStatus, availability: float, reason: str
    ) -> IntentRecord:
        change = StatusChange(self.plane.clock.now_s(), status, availability, reason)
        updated = dataclasses.replace(record, status=status, history=(*record.history, change))
        self.store.save(updated)
        system = _system(record.tenant)
        self.plane.record(system, f"intent.{status}", f"intent:{record.id}", reason)
        return updated

    def _repair(
        self,
        record: IntentRecord,
        translation: Translation,
        broken: list[int],
        tasks: dict[str, tuple[Task | None, bool]],
    ) -> IntentRecord:
        now_s = self.plane.clock.now_s()
        last = self._repaired_at.get(record.id)
        if last is not None and now_s - last < self.config.repair_backoff_s:
            return record
        self._repaired_at[record.id] = now_s
        specs = [translation.specs[i] for i in broken]
        plan = self._plan(translation, specs, (), record.tenant)
        system = _system(record.tenant)
        target = f"intent:{record.id}"
        if plan.refusals:
            why = "; ".join(c.message for c in plan.refusals)
            detail = f"{len(specs)} replica(s) not serving; checked in a fresh fork: {why}"
            self.plane.record(system, "intent.repair-deferred", target, detail)
            return record
        for i in broken:
            task, _ = tasks[record.task_ids[i]]
            if task is not None and not task.state.is_terminal:
                self.plane.cancel(system, task.id, None).result(_WAIT_S)
        owner = Principal(record.who, record.tenant, frozenset({Role.CONSUMER}))
        round_ = f"r{len(record.history)}-{int(now_s * 1000)}:"
        fresh = self._submit(owner, record.id, round_, specs)
        task_ids = list(record.task_ids)
        for i, task_id in zip(broken, fresh, strict=True):
            task_ids[i] = task_id
        updated = dataclasses.replace(record, task_ids=tuple(task_ids))
        self.store.save(updated)
        assert plan.prediction is not None
        old = ", ".join(record.task_ids[i] for i in broken)
        detail = (
            f"re-placed {len(broken)} replica(s) ({old}) after a fresh fork placed them all "
            f"(SLA met {plan.prediction.sla_met_fraction:.2f})"
        )
        self.plane.record(system, "intent.repair", target, detail)
        return updated

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
                    self.plane.cancel(who, task_id, None).result(_WAIT_S)
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
            self.plane.record(who, "intent.withdraw", f"intent:{intent_id}", reason).result(_WAIT_S)
        return updated

    def get(self, intent_id: str, scope: str | None) -> IntentRecord | None:
        """The intent (of tenant ``scope`` when given), or None."""
        return self.store.get(intent_id, scope)

    def list(self, scope: str | None) -> list[IntentRecord]:
        """Every intent (of tenant ``scope`` when given), oldest first."""
        return self.store.list(scope)


def _completed(task: Task | None) -> bool:
    return task is not None and task.state is TaskState.COMPLETED


def _system(tenant: str) -> Principal:
    """The principal assurance acts as: the system, in the intent's tenant."""
    return Principal("system", tenant, frozenset({Role.OPERATOR}))
