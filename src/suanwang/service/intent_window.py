"""An applied intent's measured SLA over a sliding window, and its status.

How it is measured depends on the intent's style (``style_of``):

* **service-style** (its replicas are long-running services): each assessment takes one
  sample, the share of the replicas its load needs that serve now, capped at 1 (spare replicas
  beyond the load do not raise it); the window's availability is the mean of the samples of the
  last ``window_s`` (``SlaWindow``), the share of time its replicas served. A replica serves
  while its task runs on a node that is up (or is placed there and still within its start
  grace) and its estimate meets the latency target (``serving``). A replica whose task ended,
  completed or not, no longer serves: a service that exits is down until it is replaced.
* **request-style** (its replicas are requests or batch jobs that end): the window's
  availability is the share of its requests that ended in the last ``window_s`` within their
  budget (else deadline): each request counts once, when it ends (``RequestWindow``). A request
  that failed or was rejected counts as missed when it ended; one still unfinished past its
  budget counts as missed from then on. Requests not ended are not judged yet; with none
  judged in the window the availability is 1.

Status, in order:

* ``violated``: the window's availability is below the intent's target;
* ``at-risk``: a replica is not serving (a spare is gone, so one more loss hurts; for a
  request-style intent, an unfinished request that is neither running nor placed), or the
  forecast says so: were the present sample to last a whole window, the window would fall below
  the target;
* ``met``: otherwise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from suanwang.control.intents import IntentStatus
from suanwang.model import Task, TaskSpec, TaskState
from suanwang.service.metrics import sla_met

Style = Literal["service", "request"]


def style_of(specs: Sequence[TaskSpec]) -> Style:
    """``service`` when every replica is a long-running service, else ``request``."""
    return "service" if specs and all(s.long_running for s in specs) else "request"


def serving(
    task: Task | None,
    node_up: bool,
    target_ms: float | None,
    now_s: float,
    start_grace_s: float,
) -> bool:
    """Whether a replica serves now (see the module docstring).

    It serves while placed or running on a node that is up with its estimate within
    ``target_ms``; a placed one only for ``start_grace_s`` before its agent reports it started.
    A task that ended does not serve.
    """
    if task is None or task.state.is_terminal:
        return False
    if not node_up or task.placement is None:
        return False
    if target_ms is not None and task.placement.estimate.total_ms > target_ms:
        return False
    if task.state is TaskState.RUNNING:
        return True
    placed_for_s = now_s - task.history[-1].at_s
    return task.state is TaskState.SCHEDULED and placed_for_s <= start_grace_s


def _budget_s(task: Task) -> float | None:
    spec = task.spec
    if spec.latency_budget_ms is not None:
        return (spec.latency_budget_ms - spec.fixed_latency_ms) / 1000.0
    return spec.deadline_s


@dataclass(frozen=True, slots=True)
class Sample:
    """One assessment of an intent.

    Attributes:
        at_s: When.
        serving: Replicas serving.
        replicas: Replicas it has (load and spares).
        needed: Replicas its load needs.
    """

    at_s: float
    serving: int
    replicas: int
    needed: int

    @property
    def value(self) -> float:
        """Share of the needed replicas serving, capped at 1."""
        return min(1.0, self.serving / self.needed) if self.needed else 1.0


@dataclass(slots=True)
class SlaWindow:
    """The samples of the last ``window_s`` of one intent (see the module docstring)."""

    window_s: float
    target: float
    samples: deque[Sample] = field(default_factory=deque)

    def add(self, sample: Sample) -> None:
        """Take a sample and forget those older than the window."""
        self.samples.append(sample)
        while self.samples and self.samples[0].at_s < sample.at_s - self.window_s:
            self.samples.popleft()

    @property
    def availability(self) -> float:
        """Mean of the samples in the window (1 before the first)."""
        if not self.samples:
            return 1.0
        return sum(s.value for s in self.samples) / len(self.samples)

    def status(self) -> tuple[IntentStatus, str]:
        """The status the window says, and why in words."""
        if not self.samples:
            return IntentStatus.MET, "no sample yet"
        last, availability = self.samples[-1], self.availability
        if availability < self.target:
            return IntentStatus.VIOLATED, (
                f"availability {availability:.3f} over the window is below the target "
                f"{self.target:g}; {last.serving} of {last.needed} needed replicas serving"
            )
        if last.value < self.target:
            return IntentStatus.AT_RISK, (
                f"forecast: with {last.serving} of {last.needed} needed replicas serving, "
                f"the window falls below the target {self.target:g}"
            )
        if last.serving < last.replicas:
            return IntentStatus.AT_RISK, (
                f"{last.serving} of {last.replicas} replicas serving: "
                f"{last.replicas - last.serving} spare(s) lost"
            )
        return IntentStatus.MET, f"all {last.replicas} replicas serving"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request judged: when it ended (or its budget ran out) and whether it met its SLA."""

    at_s: float
    met: bool


@dataclass(slots=True)
class RequestWindow:
    """The requests of one request-style intent judged in the last ``window_s``.

    See the module docstring. Each assessment calls ``begin``, then ``observe`` for each
    replica's task.

    Attributes:
        outcomes: Judged requests by task id, those of the window only.
        pending: Unfinished requests seen in this assessment.
        broken: Of those, the ones neither placed nor running on a node that is up.
    """

    window_s: float
    target: float
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    pending: int = 0
    broken: int = 0

    def begin(self, now_s: float) -> None:
        """Start an assessment at ``now_s``: forget outcomes older than the window."""
        since_s = now_s - self.window_s
        self.outcomes = {k: o for k, o in self.outcomes.items() if o.at_s >= since_s}
        self.pending = self.broken = 0

    def observe(self, task: Task | None, serves: bool, now_s: float) -> None:
        """Judge ``task`` at ``now_s``; ``serves``: it is placed or running on an up node."""
        if task is None:
            self.broken += 1
            return
        state, budget_s = task.state, _budget_s(task)
        outcome = None
        if state is TaskState.COMPLETED:
            outcome = Outcome(task.history[-1].at_s, sla_met(task))
        elif state in (TaskState.FAILED, TaskState.REJECTED):
            outcome = Outcome(task.history[-1].at_s, False)
        elif state is TaskState.CANCELLED:
            return  # withdrawn or replaced by repair: no request of the user's was missed
        else:
            self.pending += 1
            self.broken += not serves
            if budget_s is None or now_s - task.submitted_at_s <= budget_s:
                return
            if task.id in self.outcomes:  # counted missed already
                return
            outcome = Outcome(task.submitted_at_s + budget_s, False)
        if outcome.at_s >= now_s - self.window_s:  # ended before the window: not judged
            self.outcomes[task.id] = outcome

    @property
    def judged(self) -> int:
        """Requests judged in the window."""
        return len(self.outcomes)

    @property
    def availability(self) -> float:
        """Share of the judged requests that met their SLA (1 with none judged)."""
        if not self.outcomes:
            return 1.0
        return sum(o.met for o in self.outcomes.values()) / len(self.outcomes)

    def status(self) -> tuple[IntentStatus, str]:
        """The status the window says, and why in words (after this assessment's tasks)."""
        pending, broken = self.pending, self.broken
        judged, availability = self.judged, self.availability
        measured = (
            f"{sum(o.met for o in self.outcomes.values())} of {judged} requests ended in the "
            f"window within their budget"
        )
        if judged and availability < self.target:
            return IntentStatus.VIOLATED, (
                f"availability {availability:.3f} over the window is below the target "
                f"{self.target:g}: {measured}"
            )
        if broken:
            return IntentStatus.AT_RISK, (
                f"{broken} of {pending} unfinished requests neither placed nor running; {measured}"
            )
        if not judged:
            return IntentStatus.MET, f"no request ended in the window; {pending} unfinished"
        return IntentStatus.MET, measured
