"""The agent's CPU meter: busy cores of its own child processes, measured by the OS."""

from __future__ import annotations

import multiprocessing
import time

import psutil
import pytest

from suanwang.execution.load import CpuMeter


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


MEASURE_S = 1.0
"""The interval a reading covers (what the meter measures over, not a wait for an event)."""


def _busy_while_a_child_spins(meter: CpuMeter) -> float:
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=_spin, args=(30.0,))
    child.start()
    try:
        meter.busy_cores()  # the child is now known: the next reading covers it fully
        time.sleep(MEASURE_S)
        return meter.busy_cores()
    finally:
        child.terminate()
        child.join(10)


def test_a_busy_child_shows_as_a_busy_core() -> None:
    meter = CpuMeter("workers")
    busy = _busy_while_a_child_spins(meter)
    # A spinning process keeps about one core busy (less when others share the machine).
    assert 0.3 < busy < 1.3
    time.sleep(MEASURE_S / 4)
    assert meter.busy_cores() < 0.2  # no busy children any more


def test_the_host_source_reads_the_whole_machine() -> None:
    meter = CpuMeter("host")
    busy = _busy_while_a_child_spins(meter)
    assert 0.3 < busy <= (psutil.cpu_count() or 1) + 1e-9  # our child's core at least
    with pytest.raises(ValueError, match="load source"):
        CpuMeter("gpu")  # type: ignore[arg-type]
