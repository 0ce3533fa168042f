"""Ports: the Protocols the control plane needs from the outside world, with their contracts.

Every port has a real adapter and a fake next to it, so the controller runs unchanged live, in
tests and in the digital twin (DESIGN.md §3).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Where the control plane reads the time.

    Contract:
        * ``now_s()`` returns seconds since the Unix epoch as a float — the same scale as the
          timestamps agents sign into their reports, so ages and timestamp windows compare
          like with like. A simulated clock may start anywhere but must keep that meaning
          within one run.
        * It never blocks and is safe to call from any thread.
        * Successive calls do not go backwards in a simulated clock; a wall clock may step back
          a little (NTP), so users clamp negative ages to zero rather than fail.
    """

    def now_s(self) -> float:
        """The current time in seconds."""
        ...


class SystemClock:
    """The machine's wall clock (``time.time()``)."""

    def now_s(self) -> float:
        """The current wall-clock time in seconds since the epoch."""
        return time.time()


class ManualClock:
    """A clock that moves only when told to: for tests and the digital twin.

    Args:
        start_s: Initial time.
    """

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = start_s
        self._lock = threading.Lock()

    def now_s(self) -> float:
        """The time last set."""
        with self._lock:
            return self._now_s

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0) and return the new time.

        Raises:
            ValueError: ``seconds`` is negative (this clock never goes back).
        """
        if seconds < 0:
            raise ValueError(f"a manual clock only moves forward, got {seconds}")
        with self._lock:
            self._now_s += seconds
            return self._now_s
