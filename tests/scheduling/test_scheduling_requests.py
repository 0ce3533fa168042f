"""Edge cases of the request itself: zero work, demands no node could ever meet."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from suanwang.model import AcceleratorKind, AcceleratorNeed, Precision, TaskSpec
from suanwang.scheduling import ClusterState, Code, Request, Scheduler, builtin_profiles


def test_zero_work_cpu_task_is_placed_with_no_compute_time(sw: Any) -> None:
    scheduler = sw.scheduler(sw.hand_topology(), filters=("resource-fit",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decision = scheduler.schedule(Request("t1", TaskSpec(0.0, ingress_site="U")))
    assert decision.placement is not None
    assert decision.placement.estimate.compute_ms == 0.0
    assert decision.placement.estimate.cost == 0.0


def test_zero_work_accelerated_task_raises_no_warning(sw: Any) -> None:
    scheduler = sw.scheduler(sw.hand_topology(), filters=("resource-fit",))
    spec = TaskSpec(0.0, Precision.FP16, accelerator=AcceleratorNeed(AcceleratorKind.GPU))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decision = scheduler.schedule(Request("t1", spec.at("U")))
    assert decision.placement is not None
    assert decision.placement.node_id == "region-gpu"


@pytest.mark.parametrize(
    "spec",
    [
        TaskSpec(1.0, cpu_cores=1_000.0, ingress_site="U"),
        TaskSpec(1.0, cpu_cores=0.0, ingress_site="U"),
        TaskSpec(1.0, accelerator=AcceleratorNeed(AcceleratorKind.NPU), ingress_site="U"),
    ],
    ids=["more-cores-than-any-node", "cpu-work-on-no-cores", "no-node-has-the-device"],
)
def test_impossible_demand_is_an_error_of_the_request(sw: Any, spec: TaskSpec) -> None:
    scheduler = Scheduler(builtin_profiles()["cats-joint"], ClusterState(sw.hand_topology()))
    decision = scheduler.schedule(Request("t1", spec))
    assert decision.placement is None
    assert decision.status.code is Code.ERROR
    assert decision.status.plugin == "request-check"
