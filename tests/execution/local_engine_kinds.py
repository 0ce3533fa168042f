"""User functions for the local engine's tests, imported by its spawned workers.

``module:function`` kinds: ``local_engine_kinds:die`` and friends (the test directory is on
``sys.path``, which spawned workers inherit). ``work_gflop`` is used as seconds here.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from suanwang.execution import Work

EXIT_CODE = 3
"""What a dying worker exits with."""


def die(work: Work) -> object:
    """Kill the worker process at once, as a crash or the OOM killer would."""
    os._exit(EXIT_CODE)


def begun_mark(task_id: str, test_pid: int | None = None) -> Path:
    """The file a worker touches when it begins ``task_id``'s work (the test's own per process).

    Workers are spawned by the test process, so their parent's pid names the test's folder.
    """
    pid = os.getpid() if test_pid is None else test_pid
    return Path(tempfile.gettempdir()) / f"suanwang-local-kinds-{pid}" / f"{task_id}.begun"


def _mark_begun(work: Work) -> None:
    mark = begun_mark(work.task_id, os.getppid())
    mark.parent.mkdir(exist_ok=True)
    mark.touch()


def die_later(work: Work) -> object:
    """Mark the work begun, sleep ``work_gflop`` seconds, then kill the worker process."""
    _mark_begun(work)
    time.sleep(work.work_gflop)
    os._exit(EXIT_CODE)


def nap_marked(work: Work) -> object:
    """Mark the work begun, then sleep ``work_gflop`` seconds; return the worker's pid."""
    _mark_begun(work)
    time.sleep(work.work_gflop)
    return os.getpid()


def nap(work: Work) -> object:
    """Sleep ``work_gflop`` seconds; return the worker's pid."""
    time.sleep(work.work_gflop)
    return os.getpid()
