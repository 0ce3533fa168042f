"""A bounded poll for the end-to-end tests, whose processes report through HTTP, not events."""

from __future__ import annotations

import time
from typing import Any


def until(what: str, check: Any, timeout_s: float, pause_s: float) -> Any:
    """``check()``'s first true answer, polled every ``pause_s`` for at most ``timeout_s``.

    Raises:
        AssertionError: naming ``what``, when no answer was true in time.
    """
    deadline_s = time.monotonic() + timeout_s
    for _ in range(int(timeout_s / pause_s) + 1):
        found = check()
        if found:
            return found
        if time.monotonic() > deadline_s:
            break
        time.sleep(pause_s)
    raise AssertionError(f"not in {timeout_s} s: {what}")
