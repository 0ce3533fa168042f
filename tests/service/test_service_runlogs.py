"""The runs' logs kept by the plane: per task, bounded in total, oldest dropped first."""

from __future__ import annotations

import pytest

from suanwang.service.runlogs import RunLog, RunLogs, task_of_run


def _log(run_id: str, stdout: str = "out", stderr: str = "") -> RunLog:
    return RunLog(run_id, "n1", "ok", stdout, stderr, 0.0)


def test_runs_are_kept_per_task_with_replacement_runs() -> None:
    logs = RunLogs()
    for run_id in ("t1", "t2", "t1~1"):
        logs.put(_log(run_id))
    assert [log.run_id for log in logs.of_task("t1")] == ["t1", "t1~1"]
    assert [log.run_id for log in logs.of_task("t2")] == ["t2"]
    assert logs.of_task("t3") == []
    assert task_of_run("t1~12") == "t1"


def test_the_oldest_runs_go_first_when_the_total_passes_the_bound() -> None:
    logs = RunLogs(max_total_chars=10)
    logs.put(_log("a", "x" * 4))
    logs.put(_log("b", "y" * 4))
    logs.put(_log("a", "z" * 2))  # reported again: replaces, and is now the newest
    assert [log.stdout for log in logs.of_task("a")] == ["zz"]
    logs.put(_log("c", "w" * 6))
    assert logs.of_task("b") == []  # dropped: 4 + 2 + 6 > 10
    assert [log.stdout for log in logs.of_task("a") + logs.of_task("c")] == ["zz", "w" * 6]
    logs.put(_log("d", "v" * 50))  # over the bound alone: kept, all others dropped
    assert [log.run_id for t in "acd" for log in logs.of_task(t)] == ["d"]


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"max_total_chars: must be at least 1 \(got 0\)"):
        RunLogs(0)
