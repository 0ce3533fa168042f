"""Assurance of applied intents, as a part of ``Intents``: measure, set the status, repair.

Every ``interval_s`` on a thread of its own (``start``), ``assess`` reads each applied intent's
tasks on the writer and measures it over its window by its style (``intent_window``: the share
of time a service-style intent's replicas serve; the share of a request-style intent's ended
requests within budget). A change of status is stored with its reason, the measured share
against the one predicted at apply time, and audited; ``measured`` answers both now. An
intent at risk or violated with replicas not serving is repaired: the replacements are first
run ahead in a fresh fork, and only when the fork places them all are the broken tasks
cancelled and submitted again (``intent.repair``); otherwise the attempt is audited
(``intent.repair-deferred``) and tried again after ``repair_backoff_s``. A request that
completed is done and never repaired. A restart starts each intent's window afresh. These
methods are the ``Intents``' (it mixes them in); they live here to keep each module small.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from suanwang.control.intents import IntentRecord, IntentStatus, IntentStore, StatusChange
from suanwang.control.stores import Principal, Role, StoreError
from suanwang.model import Task, TaskSpec, TaskState
from suanwang.scenario.intent import IntentDoc, Translation
from suanwang.service.intent_window import (
    RequestWindow,
    Sample,
    SlaWindow,
    Style,
    serving,
    style_of,
)

if TYPE_CHECKING:
    from suanwang.service.intents import Plan
    from suanwang.service.plane import ControlPlane

log = logging.getLogger(__name__)
WAIT_S = 60.0
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


class AssuranceMixin:
    """The assurance of ``Intents`` (which provides the attributes and methods declared)."""

    plane: ControlPlane
    store: IntentStore
    config: AssuranceConfig
    _windows: dict[str, SlaWindow | RequestWindow]
    _repaired_at: dict[str, float]
    _lock: threading.Lock
    _stop: threading.Event
    _thread: threading.Thread | None

    @abstractmethod
    def parse(self, data: Any, source: str = "<request>") -> IntentDoc:
        """See ``Intents.parse``."""

    @abstractmethod
    def _translate(self, doc: IntentDoc) -> Translation: ...

    @abstractmethod
    def _plan(
        self,
        translation: Translation,
        specs: Sequence[TaskSpec],
        extra: Sequence[TaskSpec],
        tenant: str,
    ) -> Plan: ...

    @abstractmethod
    def _submit(
        self, who: Principal, intent_id: str, round_: str, specs: Sequence[TaskSpec]
    ) -> tuple[str, ...]: ...

    def start(self) -> None:
        """Assess every ``interval_s`` on a thread until ``stop``."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="intent-assurance", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the assessments (the running one finishes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=WAIT_S)
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

        return plane.call(on_writer).result(WAIT_S)

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
                self.plane.cancel(system, task.id, None).result(WAIT_S)
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


def _completed(task: Task | None) -> bool:
    return task is not None and task.state is TaskState.COMPLETED


def _system(tenant: str) -> Principal:
    """The principal assurance acts as: the system, in the intent's tenant."""
    return Principal("system", tenant, frozenset({Role.OPERATOR}))
