"""Intents on a live plane: refused with the conflicting constraints, predicted in a fork and
placed live with the prediction stored, and kept true: a lost site makes one at risk, repair
restores it, all audited; a service's replicas that ended no longer serve, and a batch intent
is judged on its ended jobs against the prediction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from suanwang.bootstrap import journal_for
from suanwang.cli.localnet import USERS_SITE, write_three_sites
from suanwang.control.intents import IntentStatus
from suanwang.control.ports import ManualClock
from suanwang.control.stores import NotFoundError, Principal, Role
from suanwang.execution import AgentDispatch
from suanwang.model import TaskSpec, TaskState
from suanwang.scenario import load_scenario
from suanwang.scenario.intent import IntentDoc, read_intent
from suanwang.scheduling import resolve_profile
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.service.intents import AssuranceConfig, IntentRefusedError, Intents
from suanwang.storage import open_store

ALICE = Principal("alice", "acme", frozenset({Role.CONSUMER}))
AGENT = Principal("agent", "sites", frozenset({Role.AGENT}))
BOB = Principal("bob", "globex", frozenset({Role.CONSUMER}))


def vr(users: int = 10, latency_ms: float = 20, extra: str = "") -> IntentDoc:
    """AR/VR at the users' site: 10 users are one replica, 99.9 % adds a spare."""
    return read_intent(
        f"version: 1\nname: vr\nneed: {{kind: ar-vr, users: {users}}}\n"
        f"coverage: {{sites: [{USERS_SITE}]}}\n"
        f"quality: {{latency_ms: {latency_ms}, availability: 0.999}}\n{extra}"
    )


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[ControlPlane]:
    stores = open_store(f"sqlite:///{tmp_path / 'plane.db'}")
    plane = ControlPlane(
        stores,
        journal_for(stores),
        load_scenario(write_three_sites(tmp_path)),
        resolve_profile("cats-joint"),
        dispatch=AgentDispatch,
        clock=ManualClock(1_700_000_000.0),
        agents=AgentPolicy(require_agent=False),
        # Assessed by the tests, not by the thread.
        assurance=AssuranceConfig(horizon_s=60, window_s=120, interval_s=3600),
    )
    plane.start()
    yield plane
    plane.stop()
    plane.stores.close()


def _intents(plane: ControlPlane) -> Intents:
    assert plane.intents is not None
    return plane.intents


def _actions(plane: ControlPlane) -> list[tuple[str, str]]:
    plane.call(lambda _: None).result(10)  # the audit entries queued so far are committed
    return [
        (e.action, e.detail)
        for e in plane.stores.audit.list(limit=500)
        if e.action.startswith("intent.")
    ]


@pytest.mark.parametrize(
    ("doc", "kind", "constraints"),
    [
        # Three nodes of two cores; 100 users are ten replicas of two cores (and a spare).
        (vr(users=100), "region-capacity", ("coverage", "need.users")),
        # The nearest node is 1 ms away each way from the users' site.
        (vr(latency_ms=1), "latency-reach", ("quality.latency_ms", "coverage")),
        (vr(extra="budget: 0.0000001\n"), "budget-quality", ("budget", "quality.latency_ms")),
    ],
)
def test_an_infeasible_intent_is_refused_with_the_conflicting_constraints_named(
    plane: ControlPlane, doc: IntentDoc, kind: str, constraints: tuple[str, ...]
) -> None:
    with pytest.raises(IntentRefusedError) as caught:
        _intents(plane).apply(ALICE, doc)
    [conflict] = caught.value.plan.refusals
    assert conflict.kind == kind
    assert conflict.constraints == constraints
    assert " vs ".join(constraints) in str(caught.value)
    assert plane.stores.tasks.list(None).tasks == ()  # nothing placed
    assert _intents(plane).list(None) == []
    [(action, detail)] = _actions(plane)
    assert action == "intent.refused"
    assert kind in detail


def test_a_feasible_intent_is_predicted_in_a_fork_then_placed_live(plane: ControlPlane) -> None:
    intents = _intents(plane)
    plan, nothing = intents.apply(ALICE, vr(), dry_run=True)
    assert nothing is None
    assert plane.stores.tasks.list(None).tasks == ()  # a dry run places nothing
    prediction = plan.prediction
    assert prediction is not None
    assert (prediction.placed, prediction.rejected) == (2, 0)
    assert prediction.sla_met_fraction == 1.0
    assert prediction.cost > 0

    plan, record = intents.apply(ALICE, vr())
    assert record is not None
    assert record.status is IntentStatus.MET
    assert len(record.task_ids) == 2
    live = [plane.stores.tasks.get(t) for t in record.task_ids]
    assert all(t is not None and t.state is TaskState.SCHEDULED for t in live)
    placed = sorted(t.placement.node_id for t in live if t is not None and t.placement)
    assert plan.prediction is not None
    assert placed == sorted(plan.prediction.per_task.values())  # where the fork said
    assert intents.get(record.id, "acme") == record
    assert intents.get(record.id, "globex") is None
    stored = record.prediction  # the prediction is kept with the intent, to compare later
    assert stored is not None
    assert stored.sla_met_fraction == plan.prediction.sla_met_fraction
    assert (stored.cost, stored.carbon_g) == (plan.prediction.cost, plan.prediction.carbon_g)
    assert list(stored.nodes) == [plan.prediction.per_task[f"what-if-{i}"] for i in range(2)]
    topology = plane.live.scenario.topology
    assert list(stored.sites) == [topology.nodes[n].site_id for n in stored.nodes]
    assert (stored.forked_at_s, stored.horizon_s) == (plane.clock.now_s(), 60)
    assert [a for a, _ in _actions(plane)] == ["intent.apply"]
    assert intents.assess() == []  # met, nothing to change


def test_a_lost_site_puts_an_intent_at_risk_and_repair_restores_it(plane: ControlPlane) -> None:
    intents, clock = _intents(plane), plane.clock
    assert isinstance(clock, ManualClock)
    blocker = TaskSpec(work_gflop=1, cpu_cores=2, ingress_site=USERS_SITE, long_running=True)
    held = plane.submit(BOB, blocker).result(10).task
    with pytest.raises(IntentRefusedError, match="room within the quality targets for 1 of"):
        intents.apply(ALICE, vr())  # the blocker's node and one more are all 20 ms reach
    _, record = intents.apply(ALICE, vr(latency_ms=40))  # the cloud is within 40 ms
    assert record is not None
    first = plane.stores.tasks.get(record.task_ids[0])
    assert first is not None
    assert first.placement is not None
    lost = first.placement.node_id

    # The node is lost: its replica finds no room (the other two nodes are full) and, its
    # patience of 20 ms gone, is rejected.
    plane.set_node(ALICE, lost, up=False, reason="site lost").result(10)
    clock.advance(1.0)
    assert plane.call(lambda _: plane.live.controller.expire()).result(10) == 1
    [changed] = intents.assess()
    assert changed.status is IntentStatus.AT_RISK
    assert "1 of 2 replicas serving" in changed.history[-1].reason
    assert changed.task_ids == record.task_ids  # the fork placed nothing: no repair yet

    # Room again: the fork places the replacement, so it is re-placed live.
    plane.cancel(BOB, held.id, "globex").result(10)
    clock.advance(AssuranceConfig().repair_backoff_s)
    [repaired] = intents.assess()
    assert repaired.task_ids[0] != record.task_ids[0]
    replacement = plane.stores.tasks.get(repaired.task_ids[0])
    assert replacement is not None
    assert replacement.state is TaskState.SCHEDULED
    [met] = intents.assess()
    assert met.status is IntentStatus.MET
    assert [c.status for c in met.history] == [
        IntentStatus.MET,
        IntentStatus.AT_RISK,
        IntentStatus.MET,
    ]
    assert [a for a, _ in _actions(plane)] == [
        "intent.refused",
        "intent.apply",
        "intent.at-risk",
        "intent.repair-deferred",
        "intent.repair",
        "intent.met",
    ]
    stored = plane.stores.intents
    assert stored is not None
    assert stored.get(met.id) == met


def test_withdrawing_an_intent_cancels_its_tasks_and_assurance_leaves_it(
    plane: ControlPlane,
) -> None:
    intents = _intents(plane)
    _, record = intents.apply(ALICE, vr())
    assert record is not None
    with pytest.raises(NotFoundError):
        intents.withdraw(BOB, record.id, "globex")  # another tenant's intent is not there

    withdrawn = intents.withdraw(ALICE, record.id, "acme")

    assert withdrawn.status is IntentStatus.WITHDRAWN
    assert withdrawn.history[-1].reason == "withdrawn by alice: 2 live task(s) cancelled"
    for task_id in record.task_ids:
        task = plane.stores.tasks.get(task_id)
        assert task is not None
        assert task.state is TaskState.CANCELLED
    assert intents.get(record.id, "acme") == withdrawn
    assert intents.withdraw(ALICE, record.id, "acme") == withdrawn  # once is enough
    assert intents.assess() == []  # no repair of what was withdrawn
    assert [a for a, _ in _actions(plane)] == ["intent.apply", "intent.withdraw"]


def test_a_region_only_intent_enters_at_the_regions_sites_or_is_refused_by_name(
    plane: ControlPlane,
) -> None:
    doc = read_intent(
        "version: 1\nname: vr\nneed: {kind: ar-vr, users: 10}\ncoverage: {regions: [CN-SH]}\n"
    )
    with pytest.raises(ValueError, match=r"coverage\.regions: no site of the live topology"):
        _intents(plane).apply(ALICE, doc, dry_run=True)
    assert plane.stores.tasks.list(None).tasks == ()


def _run_to_completion(plane: ControlPlane, task_ids: tuple[str, ...], run_s: float) -> None:
    """The agents start each of ``task_ids`` and report it finished ``run_s`` later."""
    clock = plane.clock
    assert isinstance(clock, ManualClock)
    nodes = {}
    for task_id in task_ids:
        task = plane.stores.tasks.get(task_id)
        assert task is not None
        assert task.placement is not None
        nodes[task_id] = task.placement.node_id
    for node in set(nodes.values()):
        assert {t.id for t in plane.pull(node, 100)} == {t for t, n in nodes.items() if n == node}
    for task_id, node in nodes.items():
        plane.report(AGENT, node, task_id, finished=False, ok=True, reason="").result(10)
    clock.advance(run_s)
    for task_id, node in nodes.items():
        plane.report(AGENT, node, task_id, finished=True, ok=True, reason="ok").result(10)


def test_service_replicas_that_ended_no_longer_serve_and_are_replaced(
    plane: ControlPlane,
) -> None:
    intents = _intents(plane)
    _, record = intents.apply(ALICE, vr())
    assert record is not None
    # Each replica's work is done in a millisecond: well within 20 ms, yet the service ended.
    _run_to_completion(plane, record.task_ids, 0.001)
    assert plane.clock.now_s() - record.created_at_s < 0.02

    [changed] = intents.assess()

    assert changed.status is IntentStatus.VIOLATED
    assert "0 of 1 needed replicas serving" in changed.history[-1].reason
    assert "against the predicted 1.000" in changed.history[-1].reason
    assert set(changed.task_ids).isdisjoint(record.task_ids)  # both re-placed
    measured = intents.measured(changed)
    assert (measured.style, measured.measured, measured.predicted) == ("service", 0.0, 1.0)
    assert [a for a, _ in _actions(plane)][-2:] == ["intent.violated", "intent.repair"]


def test_a_batch_intent_is_judged_on_its_ended_jobs_against_the_prediction(
    plane: ControlPlane,
) -> None:
    intents = _intents(plane)
    doc = read_intent(
        "version: 1\nname: reports\nneed: {kind: batch-analytics, jobs: 3}\n"
        f"coverage: {{sites: [{USERS_SITE}]}}\nquality: {{deadline_s: 60}}\n"
    )
    _, record = intents.apply(ALICE, doc)
    assert record is not None
    assert record.prediction is not None
    assert record.prediction.sla_met_fraction == 1.0
    assert intents.measured(record).measured is None  # not assessed yet
    _run_to_completion(plane, record.task_ids[:2], 30.0)
    assert intents.assess() == []  # met: 2 of 2 ended jobs on time, one running
    measured = intents.measured(record)
    assert (measured.style, measured.measured, measured.judged) == ("request", 1.0, 2)

    clock = plane.clock
    assert isinstance(clock, ManualClock)
    clock.advance(31.0)  # the third job is still unfinished past its deadline
    [changed] = intents.assess()
    assert changed.status is IntentStatus.VIOLATED
    assert "2 of 3 requests ended in the window within their budget" in changed.history[-1].reason
    # Completed jobs are done and kept; the third, never started within its grace, is re-placed.
    assert changed.task_ids[:2] == record.task_ids[:2]
    assert changed.task_ids[2] != record.task_ids[2]


def test_a_batch_intent_larger_than_the_room_now_waits_for_room_in_the_fork(
    plane: ControlPlane,
) -> None:
    # Eight one-core jobs on three nodes of two cores: six run now, two once those end.
    doc = read_intent(
        "version: 1\nname: reports\nneed: {kind: batch-analytics, jobs: 8}\n"
        f"coverage: {{sites: [{USERS_SITE}]}}\nquality: {{deadline_s: 600}}\n"
    )
    plan = _intents(plane).plan(doc, "acme")
    assert plan.check.room_for == 6
    assert plan.check.conflicts == ()  # no region-capacity: batch work may queue
    assert plan.prediction is not None
    assert (plan.prediction.placed, plan.prediction.sla_met_fraction) == (8, 1.0)
    assert plan.refusals == ()
