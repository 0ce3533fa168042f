"""Refused signed reports in the audit log, rate-bounded so that a flood cannot fill it.

Every refusal (tampered, replayed, unknown key, malformed numbers...) is counted; the audit log
gets at most one ``report.refused`` entry per principal and reason per ``interval_s``. That
entry names the key id and the refusal, and how many refusals of the same kind it stands for
(those held back since the previous entry, and itself).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

AUDIT_ACTION = "report.refused"
MAX_TRACKED = 10_000
"""Most (principal, reason) pairs remembered; past it the oldest windows are forgotten."""


@dataclass(slots=True)
class _Window:
    opened_s: float
    held_back: int = 0


class RefusalAudit:
    """Decides which refusals become audit entries (see the module docstring).

    Args:
        interval_s: Least time between two entries of one principal and reason.
        clock_s: Time source, seconds.
    """

    def __init__(self, interval_s: float, clock_s: Callable[[], float]) -> None:
        self.interval_s, self._clock_s = interval_s, clock_s
        self._windows: dict[tuple[str, str], _Window] = {}
        self._lock = threading.Lock()  # request threads share it

    def admit(self, principal_id: str, reason: str) -> int:
        """Count one refusal; the number of refusals an entry written now stands for, else 0."""
        now_s = self._clock_s()
        key = (principal_id, reason)
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now_s - window.opened_s < self.interval_s:
                window.held_back += 1
                return 0
            count = 1 if window is None else window.held_back + 1
            self._windows.pop(key, None)  # re-inserted last: the dict stays oldest first
            if len(self._windows) >= MAX_TRACKED:
                del self._windows[next(iter(self._windows))]
            self._windows[key] = _Window(now_s)
            return count
