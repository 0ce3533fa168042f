"""User functions for the local engine's tests, imported by its spawned workers.

``module:function`` kinds: ``local_engine_kinds:die`` and friends (the test directory is on
``sys.path``, which spawned workers inherit). ``work_gflop`` is used as seconds here.
"""

from __future__ import annotations

import os
import time

from suanwang.execution import Work

EXIT_CODE = 3
"""What a dying worker exits with."""


def die(work: Work) -> object:
    """Kill the worker process at once, as a crash or the OOM killer would."""
    os._exit(EXIT_CODE)


def die_later(work: Work) -> object:
    """Sleep ``work_gflop`` seconds, then kill the worker process."""
    time.sleep(work.work_gflop)
    os._exit(EXIT_CODE)


def nap(work: Work) -> object:
    """Sleep ``work_gflop`` seconds; return the worker's pid."""
    time.sleep(work.work_gflop)
    return os.getpid()
