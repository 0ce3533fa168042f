"""An agent's measured CPU load: busy cores over the last interval, from the operating system.

Two sources, both read through psutil (``/proc`` on Linux):

* ``workers``: CPU time of the agent's child processes (its workers and whatever they start)
  per second of wall time. It counts the node's own work only, so several agents sharing one
  machine (the local network of the demo and the tests) each see their own load.
* ``host``: the whole machine's busy share (every process) times its logical cores: what an
  agent that has its machine to itself should report, since other users' load counts too.

The figure is a real measurement: a node whose task keeps a core busy reports that core busy,
whatever the ledger reserved for it.
"""

from __future__ import annotations

import os
import time
from typing import Literal

import psutil

LoadSource = Literal["workers", "host"]
LOAD_SOURCES: tuple[LoadSource, ...] = ("workers", "host")


class CpuMeter:
    """Busy cores since the previous reading (see the module docstring).

    Args:
        source: ``workers`` (the agent's child processes) or ``host`` (the whole machine).
    """

    def __init__(self, source: LoadSource = "workers") -> None:
        if source not in LOAD_SOURCES:
            raise ValueError(f"load source must be one of {LOAD_SOURCES}, got {source!r}")
        self.source = source
        self._me = psutil.Process(os.getpid())
        self._cpu_by_pid: dict[int, float] = {}
        self._at_s = time.monotonic()
        if source == "host":
            psutil.cpu_percent(interval=None)  # starts the machine-wide interval
        else:
            self._children_cpu_s()

    def _children_cpu_s(self) -> float:
        """CPU seconds the children used since the last call (exited ones drop out)."""
        used, seen = 0.0, {}
        for child in self._me.children(recursive=True):
            try:
                times = child.cpu_times()
            except psutil.Error:  # gone meanwhile
                continue
            total = times.user + times.system + times.children_user + times.children_system
            seen[child.pid] = total
            used += max(0.0, total - self._cpu_by_pid.get(child.pid, total))
        self._cpu_by_pid = seen
        return used

    def busy_cores(self) -> float:
        """Cores kept busy, on average, since the previous call (or since the meter started)."""
        now_s = time.monotonic()
        elapsed_s, self._at_s = max(now_s - self._at_s, 1e-6), now_s
        if self.source == "host":
            return psutil.cpu_percent(interval=None) / 100.0 * (psutil.cpu_count() or 1)
        return self._children_cpu_s() / elapsed_s
