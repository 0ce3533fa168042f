"""Task kinds: real work sized to the declared GFLOP, kind selection, user functions."""

from __future__ import annotations

import os
import pickle

import pytest

from suanwang.execution.kinds import (
    BUILTIN_KINDS,
    MATMUL_MAX_N,
    KindError,
    Work,
    inference_flop_per_sample,
    is_function_path,
    matmul_shape,
    resolve_kind,
    run_work,
    select_kind,
    transcode_flop_per_frame,
)
from suanwang.model import Precision, TaskClass, TaskSpec


@pytest.mark.parametrize("kind", sorted(BUILTIN_KINDS))
@pytest.mark.parametrize("work_gflop", [0.05, 0.4])
@pytest.mark.parametrize("precision", [Precision.FP32, Precision.FP64])
def test_builtin_kinds_do_the_declared_work(kind: str, work_gflop: float, precision: Precision):
    result = BUILTIN_KINDS[kind](Work(work_gflop, precision, "t", seed=3))
    assert isinstance(result, dict)
    assert result["flop"] == pytest.approx(work_gflop * 1e9, rel=0.1)
    assert result["seconds"] > 0
    assert result["checksum"] == result["checksum"]  # finite, not NaN


@pytest.mark.parametrize("kind", sorted(BUILTIN_KINDS))
def test_kinds_are_deterministic_per_seed_and_do_nothing_for_no_work(kind: str):
    run = BUILTIN_KINDS[kind]
    first = run(Work(0.02, seed=1))
    again = run(Work(0.02, seed=1))
    other = run(Work(0.02, seed=2))
    assert isinstance(first, dict)
    assert isinstance(again, dict)
    assert isinstance(other, dict)
    assert first["checksum"] == again["checksum"]
    assert first["checksum"] != other["checksum"]
    nothing = run(Work(0.0))
    assert isinstance(nothing, dict)
    assert nothing["flop"] == 0.0


@pytest.mark.parametrize(
    ("work_gflop", "side", "repeats"),
    [
        (0.0, 0, 0),
        (2e-9, 1, 1),  # one multiply-add still runs
        (0.002, 100, 1),
        (2 * MATMUL_MAX_N**3 / 1e9, MATMUL_MAX_N, 1),
        (100.0, MATMUL_MAX_N, 6),  # capped side, repeated
    ],
)
def test_matmul_is_capped_per_call_and_repeated(work_gflop: float, side: int, repeats: int):
    assert matmul_shape(work_gflop) == (side, repeats)


def test_unit_costs_are_those_of_the_kernels():
    # 256 x 256 real FFT forward and back, a filter over the half spectrum, a quantisation.
    assert transcode_flop_per_frame() == pytest.approx(5.6e6, rel=0.05)
    assert inference_flop_per_sample((4, 3, 2)) == 2 * 4 * 3 + 3 + 2 * 3 * 2 + 2


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        (TaskSpec(work_gflop=1, task_type="transcode"), "transcode"),
        (TaskSpec(work_gflop=1, task_type="matmul", task_class=TaskClass.HOT), "matmul"),
        # Catalogue names run the kind of their workload class.
        (TaskSpec(work_gflop=1, task_type="video-analytics-frame"), "inference"),
        (TaskSpec(work_gflop=1, task_class=TaskClass.COLD), "matmul"),
        (TaskSpec(work_gflop=1, precision=Precision.FP64, task_class=TaskClass.HOT), "matmul"),
        (TaskSpec(work_gflop=1, service_id="cs-0123456789abcdef01234567"), "inference"),
    ],
)
def test_select_kind_follows_the_documented_rule(spec: TaskSpec, kind: str):
    assert select_kind(spec) == kind


def test_user_functions_need_the_flag():
    spec = TaskSpec(work_gflop=1, task_type="builtins:repr")
    with pytest.raises(KindError, match="allow_user_functions"):
        select_kind(spec)
    assert select_kind(spec, allow_user_functions=True) == "builtins:repr"
    by_service = TaskSpec(work_gflop=1, service_id="suanwang.execution.kinds:matmul")
    assert select_kind(by_service, allow_user_functions=True) == "suanwang.execution.kinds:matmul"
    with pytest.raises(KindError, match="allow_user_functions"):
        resolve_kind("builtins:repr")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("matmull", "unknown task kind 'matmull'; built-in kinds: matmul, transcode, inference"),
        ("no_such_module_xyz:run", "cannot import 'no_such_module_xyz'"),
        ("os.path:no_such_function", "has no 'no_such_function'"),
        ("math:pi", "is not callable"),
    ],
)
def test_unknown_or_broken_kinds_fail_clearly(name: str, message: str):
    with pytest.raises(KindError, match=message):
        resolve_kind(name, allow_user_functions=True)


@pytest.mark.parametrize(
    ("text", "ok"),
    [("a.b:c", True), ("mod:fn.attr", True), ("matmul", False), ("a b:c", False), (":c", False)],
)
def test_function_path_shape(text: str, ok: bool):
    assert is_function_path(text) is ok


def test_run_work_times_the_kind_and_names_the_process():
    outcome = run_work("matmul", Work(0.05, task_id="t"))
    assert outcome.ran_on == f"pid {os.getpid()}"
    assert outcome.compute_s > 0
    assert isinstance(outcome.result, dict)
    assert outcome.result["flop"] > 0
    user = run_work("builtins:repr", Work(1.0, task_id="u"), allow_user_functions=True)
    assert user.result == repr(Work(1.0, task_id="u"))


def test_work_is_small_picklable_and_seeded_by_task():
    spec = TaskSpec(work_gflop=2.5, precision=Precision.FP64)
    work = Work.of("task-7", spec)
    assert work == Work.of("task-7", spec)
    assert work.seed != Work.of("task-8", spec).seed
    assert pickle.loads(pickle.dumps(work)) == work
    assert len(pickle.dumps(work)) < 300
    assert all(pickle.loads(pickle.dumps(k)) is k for k in BUILTIN_KINDS.values())
