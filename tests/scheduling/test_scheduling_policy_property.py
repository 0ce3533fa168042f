"""Property: no profile ever places tagged, resident or trust-bound data where it may not go.

Random topologies (regions that share prefixes without being nested, tiers, trust levels,
owners, data policies) and random tasks (residency, trust, data tags) under every built-in
profile: every placement the controller makes, first placements and re-placements after the
nodes holding tasks go down, satisfies the task's hard constraints; so does every placement of
the batch planners (flow and MILP). The oracle below is written apart from the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanwang.control.controller import Controller
from suanwang.control.ports import EngineReports, ManualClock
from suanwang.model import (
    DataPolicy,
    Link,
    Node,
    Placement,
    Precision,
    Site,
    Task,
    TaskClass,
    TaskSpec,
    TaskState,
    Tier,
    Topology,
    TrustLevel,
)
from suanwang.scheduling import ClusterState, Request, Scheduler, builtin_profiles
from suanwang.scheduling.batch import place_batch, solve_optimum

PROFILES = builtin_profiles()
# "CN-G" and "CN-GDX" share string prefixes with "CN-GD" without containing it or being in it.
REGIONS = ["CN", "CN-GD", "CN-GD-SZ", "CN-G", "CN-GDX", "CN-BJ", "DE-BE", ""]
PATTERNS = ["CN", "CN-GD", "CN-G", "CN-GD-SZ", "DE"]
OWNERS = ["operator", "clinic", "partner"]
TAGS = ["medical", "personal", "open"]
COMPUTE_TIERS = [Tier.ONSITE, Tier.EDGE, Tier.REGION, Tier.HUB]


def _inside(code: str, pattern: str) -> bool:
    """Region ``code`` in ``pattern``: its first segments are the pattern's segments."""
    wanted = pattern.split("-")
    return code.split("-")[: len(wanted)] == wanted


def allowed(topology: Topology, node_id: str, spec: TaskSpec) -> bool:
    """The oracle: the node meets the task's residency, trust and every tag's policy."""
    node = topology.nodes[node_id]
    site = topology.sites[node.site_id]
    if spec.residency and not any(_inside(site.region, p) for p in spec.residency):
        return False
    if node.trust_level < spec.min_trust_level:
        return False
    for tag in spec.data_tags:
        policy = topology.data_policies[tag]
        if policy.regions and not any(_inside(site.region, p) for p in policy.regions):
            return False
        if policy.tiers and site.tier not in policy.tiers:
            return False
        if policy.owners and node.owner not in policy.owners:
            return False
    return True


@st.composite
def networks(draw: Any) -> Topology:
    n_sites = draw(st.integers(2, 6))
    sites = [Site("user", Tier.TERMINAL, region="CN-GD-SZ")] + [
        Site(
            f"s{i}",
            draw(st.sampled_from(COMPUTE_TIERS)),
            region=draw(st.sampled_from(REGIONS)),
        )
        for i in range(n_sites)
    ]
    nodes = [
        Node(
            f"n{i}",
            f"s{draw(st.integers(0, n_sites - 1))}",
            cpu_cores=draw(st.integers(2, 8)),
            mem_gib=16.0,
            cpu_peak_gflops={Precision.FP32: 100.0 * draw(st.integers(1, 10))},
            trust_level=draw(st.sampled_from(list(TrustLevel))),
            owner=draw(st.sampled_from(OWNERS)),
        )
        for i in range(draw(st.integers(2, 10)))
    ]
    links = [
        Link(f"l{i}", "user", f"s{i}", 1000.0, float(draw(st.integers(1, 30))))
        for i in range(n_sites)
    ]
    policies = [
        DataPolicy(
            tag,
            regions=tuple(draw(st.lists(st.sampled_from(PATTERNS), max_size=2, unique=True))),
            tiers=frozenset(draw(st.lists(st.sampled_from(COMPUTE_TIERS), max_size=3))),
            owners=frozenset(draw(st.lists(st.sampled_from(OWNERS), max_size=2))),
        )
        for tag in TAGS
    ]
    return Topology(sites, nodes, (), links, policies)


specs = st.builds(
    TaskSpec,
    work_gflop=st.sampled_from([1.0, 10.0]),
    cpu_cores=st.sampled_from([1.0, 2.0]),
    mem_gib=st.just(1.0),
    ingress_site=st.just("user"),
    task_class=st.sampled_from(list(TaskClass)),
    residency=st.lists(st.sampled_from(PATTERNS), max_size=2, unique=True).map(tuple),
    data_tags=st.frozensets(st.sampled_from(TAGS), max_size=2),
    min_trust_level=st.sampled_from(list(TrustLevel)),
)


@dataclass
class HoldingEngine:
    """Starts what it is given and never finishes it: tasks stay on their nodes."""

    reports: EngineReports | None = None
    started: list[Task] = field(default_factory=list)

    def attach(self, reports: EngineReports) -> None:
        self.reports = reports

    def start(self, task: Task) -> None:
        self.started.append(task)
        assert self.reports is not None
        self.reports.task_started(task.id)

    def cancel(self, task_id: str) -> None:
        """Nothing runs, so nothing to stop."""

    def inventory(self) -> tuple[str, ...]:
        return ()


@dataclass
class Placements:
    """Every placement the controller made, as (task id, spec, placement)."""

    seen: list[tuple[str, TaskSpec, Placement]] = field(default_factory=list)

    def task_changed(self, task: Task, cause: str) -> None:
        if task.state is TaskState.SCHEDULED and task.placement is not None:
            self.seen.append((task.id, task.spec, task.placement))


def _violations(topology: Topology, placed: list[tuple[str, TaskSpec, Placement]]) -> list[str]:
    return [
        f"{task_id} on {placement.node_id}: {spec}"
        for task_id, spec, placement in placed
        if not allowed(topology, placement.node_id, spec)
    ]


@pytest.mark.parametrize("profile", list(PROFILES))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topology=networks(), tasks=st.lists(specs, min_size=1, max_size=12))
def test_no_profile_places_outside_the_hard_constraints(
    profile: str, topology: Topology, tasks: list[TaskSpec]
) -> None:
    log = Placements()
    scheduler = Scheduler(PROFILES[profile], ClusterState(topology))
    controller = Controller(scheduler, HoldingEngine(), ManualClock(0.0), listener=log)
    for i, spec in enumerate(tasks):
        controller.submit(f"t{i}", spec)
    # Take down, one by one, every node that holds a task: its tasks are placed again.
    for node_id in topology.nodes:
        holding = [p for _, _, p in log.seen if p.node_id == node_id]
        if holding:
            controller.node_down(node_id, "test")
    assert _violations(topology, log.seen) == []
    for task_id, spec, _ in log.seen:  # anything still placed sits on an allowed node
        task = controller.task(task_id)
        if task is not None and task.placement is not None:
            assert allowed(topology, task.placement.node_id, spec)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topology=networks(), tasks=st.lists(specs, min_size=1, max_size=10))
def test_batch_planners_keep_the_hard_constraints(
    topology: Topology, tasks: list[TaskSpec]
) -> None:
    requests = [Request(f"t{i}", spec) for i, spec in enumerate(tasks)]
    for name in ("nearest", "random", "cats-joint"):
        plan = place_batch(PROFILES[name], ClusterState(topology), requests)
        placed = [
            (r.task_id, r.spec, p) for r, p in zip(requests, plan.placements, strict=True) if p
        ]
        assert _violations(topology, placed) == [], name
    optimum = solve_optimum(ClusterState(topology), requests, time_limit_s=10.0)
    placed = [
        (r.task_id, r.spec, p) for r, p in zip(requests, optimum.placements, strict=True) if p
    ]
    assert _violations(topology, placed) == []


def test_the_oracle_and_the_examples_reach_both_verdicts() -> None:
    """The generator yields allowed and forbidden nodes, so the property can fail."""
    topology = Topology(
        [Site("user", Tier.TERMINAL), Site("a", Tier.EDGE, region="CN-GD")],
        [Node("n", "a", cpu_cores=4, cpu_peak_gflops={Precision.FP32: 100.0})],
        (),
        [Link("l", "user", "a", 1000.0, 1.0)],
        [DataPolicy("medical", regions=("CN-G",))],
    )
    assert allowed(topology, "n", TaskSpec(1.0, residency=("CN",)))
    assert not allowed(topology, "n", TaskSpec(1.0, residency=("CN-G",)))
    assert not allowed(topology, "n", TaskSpec(1.0, data_tags=frozenset({"medical"})))
    assert not allowed(topology, "n", TaskSpec(1.0, min_trust_level=TrustLevel.VERIFIED))
