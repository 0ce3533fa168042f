"""An applied intent's measured SLA over a sliding window, and its status.

Each assessment takes one sample: the share of the replicas its load needs that serve now,
capped at 1 (spare replicas beyond the load do not raise it). A replica serves when its task is
running on a node that is up (or placed there and still within its start grace) and its
estimate meets the latency target, or when a batch task completed within its deadline. The
window's availability is the mean of the samples of the last ``window_s``.

Status, in order:

* ``violated``: the window's availability is below the intent's target;
* ``at-risk``: a replica is not serving (a spare is gone, so one more loss hurts), or the
  forecast says so: were the present sample to last a whole window, the window would fall below
  the target;
* ``met``: otherwise.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from suanwang.control.intents import IntentStatus


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
