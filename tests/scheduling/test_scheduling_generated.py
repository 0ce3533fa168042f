"""The generated workload against the scheduler: can each catalogue task type be placed at all?

On an empty generated cluster, ``cats-joint`` should find a node for every task type of the
scenario's own catalogue from at least one of its terminals: a type that no node of any
generated topology can serve within its budget makes every SLA-aware profile refuse a whole
stream (and the scheduling benchmark measure refusals).
"""

from __future__ import annotations

import numpy as np
import pytest

from suanwang.model import Scenario
from suanwang.scenario.generate import generate_scenario
from suanwang.scheduling import ClusterState, Request, Scheduler, builtin_profiles

NODES, SEED, TERMINALS_TRIED = 1_000, 1, 40


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return generate_scenario(NODES, seed=SEED)


@pytest.mark.parametrize(
    "task_type",
    [
        "ar-frame",
        "v2x-fusion",
        "risk-score",
        "model-training",
        "offline-render",
    ],
)
def test_each_catalogue_type_is_placeable_somewhere(scenario: Scenario, task_type: str) -> None:
    spec = scenario.workload.task_type(task_type).spec
    terminals = [site for site, _ in scenario.workload.arrivals[0].ingress][:TERMINALS_TRIED]
    scheduler = Scheduler(builtin_profiles()["cats-joint"], ClusterState(scenario.topology))
    reasons = []
    for k, ingress in enumerate(terminals):
        decision = scheduler.schedule(Request(f"{task_type}-{k}", spec.at(ingress)))
        if decision.placement is not None:
            assert decision.placement.estimate.total_ms <= min(
                spec.latency_budget_ms or np.inf, (spec.deadline_s or np.inf) * 1000.0
            )
            return
        reasons.append(decision.status.reason)
    pytest.fail(f"{task_type}: refused from all {len(terminals)} terminals, e.g. {reasons[0]}")
