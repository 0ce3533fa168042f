"""Leases bind capacity: a tenant's work runs on the nodes it leases, nobody else's does.

On ``hand_topology`` (conftest.py) the nearest node to ingress U is edge-cpu (8 cores), then
region-gpu (32 cores), then hub-big (64 cores); the task below takes 4 cores and asks for basic
trust, which keeps it off the untrusted noregion node.
"""

from __future__ import annotations

import dataclasses

from suanwang.model import TaskSpec, TrustLevel
from suanwang.scheduling import ClusterState, Code, Request, Scheduler
from suanwang.scheduling.leases import NodeLeases

TASK = TaskSpec(
    work_gflop=10.0, cpu_cores=4.0, mem_gib=1.0, ingress_site="U", min_trust_level=TrustLevel.BASIC
)


def scheduler(sw, holders: dict[str, str], scores=None) -> Scheduler:
    state = ClusterState(sw.hand_topology(), leases=NodeLeases(holders))
    profile = sw.profile(filters=("node-health", "resource-fit"), scores=scores or {"nearest": 1})
    return Scheduler(profile, state)


def node_of(scheduler: Scheduler, task_id: str, tenant: str, spec: TaskSpec = TASK) -> str | None:
    decision = scheduler.schedule(Request(task_id, spec, tenant))
    return None if decision.placement is None else decision.placement.node_id


def test_without_leases_the_nearest_node_wins(sw) -> None:
    assert node_of(scheduler(sw, {}), "t1", "acme") == "edge-cpu"


def test_a_node_leased_to_another_tenant_takes_none_of_our_work(sw) -> None:
    placing = scheduler(sw, {"edge-cpu": "beta"})
    decision = placing.schedule(Request("t1", TASK, "acme"))
    assert decision.placement is not None
    assert decision.placement.node_id == "region-gpu"
    verdict = decision.diagnosis.why_not("edge-cpu")
    assert (verdict.plugin, verdict.reason) == ("leases", "node is leased to tenant 'beta'")


def test_a_tenant_runs_on_its_leased_nodes_first_and_spills_over_when_they_are_full(sw) -> None:
    placing = scheduler(sw, {"hub-big": "acme", "edge-cpu": "beta"})
    assert node_of(placing, "t1", "acme") == "hub-big"  # leased, though two nodes are nearer
    assert node_of(placing, "t2", "beta") == "edge-cpu"
    # 60 more cores fill hub-big (64): the next task spills to the nearest unleased node.
    assert node_of(placing, "t3", "acme", dataclasses.replace(TASK, cpu_cores=60.0)) == "hub-big"
    assert node_of(placing, "t4", "acme") == "region-gpu"


def test_when_only_others_leases_could_hold_the_task_it_waits_instead_of_being_refused(sw) -> None:
    everything = {"edge-cpu": "beta", "region-gpu": "beta", "hub-big": "beta"}
    decision = scheduler(sw, everything).schedule(Request("t1", TASK, "acme"))
    assert decision.placement is None
    assert decision.status.code is Code.UNSCHEDULABLE  # leases end: the task is queued


def test_replacing_the_leases_changes_the_next_placement(sw) -> None:
    leases = NodeLeases()
    state = ClusterState(sw.hand_topology(), leases=leases)
    placing = Scheduler(sw.profile(filters=("resource-fit",), scores={"nearest": 1}), state)
    assert node_of(placing, "t1", "acme") == "edge-cpu"
    leases.replace({"edge-cpu": "beta"})
    assert leases.tenant_of("edge-cpu") == "beta"
    assert node_of(placing, "t2", "acme") == "region-gpu"
    leases.replace({})
    assert node_of(placing, "t3", "acme") == "edge-cpu"


def test_the_lease_affinity_score_ranks_the_leased_node_first(sw) -> None:
    # Leased nodes are the tenant's only candidates anyway; the score matters to plans that
    # compare candidates (it puts the leased node first among the survivors).
    placing = scheduler(sw, {"region-gpu": "acme"}, scores={"lease-affinity": 1})
    decision = placing.schedule(Request("t1", TASK, "acme"))
    assert decision.placement is not None
    assert decision.placement.node_id == "region-gpu"
    assert decision.score == 100.0
