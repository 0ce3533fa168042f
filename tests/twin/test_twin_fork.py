"""Forks of a live controller: the capture is a copy, and a run ahead predicts from it.

Two sites behind one ingress ``U``: ``E`` (one node, ``e1``, 4 cores, 1 ms away) and ``R`` (one
node, ``r1``, 8 cores, 20 ms away). The controller here is a twin controller on a manual clock,
the same ``Controller`` class the live plane runs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from suanwang.control.awareness import Aggregator
from suanwang.control.controller import Controller
from suanwang.control.ports import ManualClock
from suanwang.model import Link, Node, Precision, Site, TaskSpec, Tier, Topology
from suanwang.scheduling import ClusterState, Scheduler, resolve_profile
from suanwang.security import KeyRing, Verifier
from suanwang.twin.accounting import Accounting
from suanwang.twin.engine import SimEngine
from suanwang.twin.fork import capture
from suanwang.twin.forkrun import WHAT_IF_PREFIX, run_ahead
from suanwang.twin.loop import EventLoop
from suanwang.twin.metrics import RunMetrics, TimeSeries

RATE = {Precision.FP32: 2_500.0}
# 1,000 GFLOP on 4 cores of 2,500 GFLOPS peak at the default fp32 efficiency (0.4): one second
# of compute (r1 has twice the cores and twice the peak: the same per 4 cores).
SHORT = TaskSpec(work_gflop=1_000.0, cpu_cores=4.0, ingress_site="U", latency_budget_ms=1_500.0)
DOUBLE = {Precision.FP32: 5_000.0}
COSTS = {"price_per_hour": 3.6, "idle_power_w": 100.0, "peak_power_w": 400.0}
LONG = TaskSpec(work_gflop=100_000.0, cpu_cores=4.0, ingress_site="U")  # 100 s


def _topology() -> Topology:
    sites = [Site("U", Tier.TERMINAL), Site("E", Tier.EDGE), Site("R", Tier.REGION)]
    nodes = [
        Node("e1", "E", cpu_cores=4, mem_gib=16.0, cpu_peak_gflops=RATE, **COSTS),
        Node("r1", "R", cpu_cores=8, mem_gib=32.0, cpu_peak_gflops=DOUBLE, **COSTS),
    ]
    links = [
        Link("u-e", "U", "E", bandwidth_mbps=1_000.0, latency_ms=1.0),
        Link("u-r", "U", "R", bandwidth_mbps=1_000.0, latency_ms=20.0),
    ]
    return Topology(sites, nodes, links=links)


class _Live:
    """A controller and engine as the live plane holds them (the engine is the twin's)."""

    def __init__(self) -> None:
        self.loop = EventLoop()
        state = ClusterState(_topology())
        accounting = Accounting(state, RunMetrics(), TimeSeries(1e6, 1, ()), 0.0)
        self.engine = SimEngine(self.loop, state, accounting)
        self.controller = Controller(
            Scheduler(resolve_profile("nearest"), state), self.engine, self.loop
        )


def test_a_capture_is_not_changed_by_what_the_live_controller_does_next() -> None:
    live = _Live()
    live.controller.submit("t1", LONG)
    fork = capture(live.controller, 0.0)
    before = fork.ledger.cpu_cores.copy()

    live.controller.submit("t2", LONG)
    live.controller.node_down("r1", "test")

    assert [r.task.id for r in fork.residents] == ["t1"]
    assert (fork.ledger.cpu_cores == before).all()
    assert not fork.node_down.any()
    assert not fork.node_down.flags.writeable
    assert fork.ledger.held("t2") is None


def test_a_run_ahead_changes_neither_the_fork_nor_the_live_controller() -> None:
    live = _Live()
    live.controller.submit("t1", LONG)
    fork = capture(live.controller, 0.0)
    ledger = live.controller.state.reservations
    live_cores, fork_cores = ledger.cpu_cores.copy(), fork.ledger.cpu_cores.copy()

    first = run_ahead(fork, [SHORT] * 3, 600.0, fail_sites=["E"])
    again = run_ahead(fork, [SHORT] * 3, 600.0, fail_sites=["E"])

    assert first == again  # the fork is the same each time: nothing of a run stays in it
    assert (ledger.cpu_cores == live_cores).all()
    assert (fork.ledger.cpu_cores == fork_cores).all()
    assert not live.controller.state.node_down.any()
    assert live.controller.task("t1") is not None
    assert live.controller.active == 1


def test_residents_hold_their_node_until_their_expected_end() -> None:
    live = _Live()
    live.controller.submit("t1", LONG)  # on e1, nearest, for 100 s: e1 is full
    fork = capture(live.controller, 0.0)
    [resident] = fork.residents
    assert resident.ends_at_s == pytest.approx(100.0, abs=0.1)

    prediction = run_ahead(fork, [SHORT], 600.0)

    # e1 is held by t1: the extra task goes to r1, 20 ms away, and meets its budget.
    assert prediction.per_task == {f"{WHAT_IF_PREFIX}0": "r1"}
    assert prediction.sla_met_fraction == 1.0
    assert prediction.residents == 1
    assert prediction.cost > 0
    assert prediction.carbon_g > 0

    # Starting after t1's expected end, e1 is free again and nearest takes it.
    later = run_ahead(fork, [SHORT], 600.0, start_s=150.0)
    assert later.per_task == {f"{WHAT_IF_PREFIX}0": "e1"}


def test_a_failed_site_displaces_its_running_tasks() -> None:
    live = _Live()
    live.controller.submit("t1", LONG)  # e1
    fork = capture(live.controller, 0.0)

    prediction = run_ahead(fork, [], 600.0, fail_sites=["E"])

    assert prediction.displaced == 1
    # With no extra tasks the judged ones are those submitted in the run: t1, now on r1.
    assert prediction.per_task == {"t1": "r1"}
    assert prediction.placed == 1


def test_when_capacity_runs_out_the_prediction_says_so() -> None:
    live = _Live()
    fork = capture(live.controller, 0.0)
    # Three 4-core tasks of 1 s with a 1.5 s budget: e1 and r1 (8 cores) take three at once.
    assert run_ahead(fork, [SHORT] * 3, 60.0).sla_met_fraction == 1.0
    # Without site R only one runs at a time on e1: the second waits 1 s and misses.
    lost = run_ahead(fork, [SHORT] * 3, 60.0, fail_sites=["R"])
    assert lost.sla_met_fraction < 1.0
    assert lost.placed + lost.rejected == 3


def test_background_arrivals_take_capacity() -> None:
    live = _Live()
    fork = capture(live.controller, 0.0)
    # A 100 s task arriving every second keeps both nodes full: later arrivals wait.
    background = [(float(i), LONG, "") for i in range(1, 30)]

    quiet = run_ahead(fork, [SHORT], 60.0, background=[])
    busy_start = run_ahead(fork, [], 60.0, background=[*background, (40.0, SHORT, "")])

    assert quiet.sla_met_fraction == 1.0
    assert busy_start.background == 30
    assert busy_start.sla_met_fraction < 1.0


def test_the_fork_keeps_leases_so_tenants_land_as_they_would_live() -> None:
    live = _Live()
    live.controller.state.leases.replace({"e1": "acme"})
    fork = capture(live.controller, 0.0)
    live.controller.state.leases.replace({})  # a later live change is not the fork's

    assert fork.leases == {"e1": "acme"}
    beta = run_ahead(fork, [SHORT], 60.0, tenant="beta")
    acme = run_ahead(fork, [SHORT], 60.0, tenant="acme")
    leased_out = run_ahead(fork, [SHORT], 60.0, background=[(0.0, LONG, "acme")], tenant="beta")

    assert beta.per_task == {f"{WHAT_IF_PREFIX}0": "r1"}  # e1 is nearer, but acme's
    assert acme.per_task == {f"{WHAT_IF_PREFIX}0": "e1"}
    assert leased_out.per_task == {f"{WHAT_IF_PREFIX}0": "r1"}


def test_measured_load_beyond_the_ledger_is_held_in_the_fork() -> None:
    live = _Live()
    state = live.controller.state
    aggregator = Aggregator.from_topology(state.topology, Verifier(KeyRing()), ManualClock())
    snapshot = aggregator.snapshot()
    # e1's agent says 4 cores are busy though the ledger holds none (someone else's work).
    free = state.arrays.node_cpu_cores.copy()
    free[0] = 0.0
    reported = dataclasses.replace(
        snapshot,
        cpu_free_cores=free,
        cpu_capacity_cores=state.arrays.node_cpu_cores.copy(),
        age_s=np.zeros(2),
        excluded=np.zeros(2, dtype=bool),
    )
    state.set_snapshot(reported)
    fork = capture(live.controller, 0.0)
    assert fork.unledgered_cores[0] == pytest.approx(4.0)

    prediction = run_ahead(fork, [SHORT], 60.0)

    assert prediction.per_task == {f"{WHAT_IF_PREFIX}0": "r1"}


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"horizon_s": 0.0}, "horizon_s"),
        ({"horizon_s": float("inf")}, "horizon_s"),
        ({"horizon_s": 60.0, "load_factor": -1.0}, "load_factor"),
        ({"horizon_s": 60.0, "fail_sites": ["nowhere"]}, "'nowhere'"),
    ],
)
def test_bad_what_ifs_are_refused_by_name(kwargs: dict[str, object], named: str) -> None:
    fork = capture(_Live().controller, 0.0)
    with pytest.raises(ValueError, match=named):
        run_ahead(fork, [SHORT], **kwargs)  # type: ignore[arg-type]


def test_freed_capacity_goes_to_the_deadline_work_first_whatever_the_ticks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live = _Live()
    for i in range(3):  # e1 and r1 full for 100 s
        live.controller.submit(f"t{i}", LONG)
    for i in range(9):  # work without a deadline waits before the fork
        live.controller.submit(f"w{i}", dataclasses.replace(LONG, task_type="bg"))
    assert live.controller.queued == 9
    fork = capture(live.controller, 0.0)
    batch = dataclasses.replace(SHORT, latency_budget_ms=None, deadline_s=250.0)

    # The queue serves work with a deadline first, as live: the batch, queued last, takes the
    # nodes freed at 100 s in every run, whatever the phase of the ticks.
    ticked = [run_ahead(fork, [batch] * 2, 60.0, seed=seed) for seed in range(10)]
    assert [p.sla_met_fraction for p in ticked] == [1.0] * 10
    assert run_ahead(fork, [batch] * 2, 60.0, seed=3) == ticked[3]  # seeded

    monkeypatch.setattr("suanwang.twin.forkrun.TICK_S", 1e9)
    # Without the tick the releases alone hand it the nodes.
    assert run_ahead(fork, [batch] * 2, 60.0).sla_met_fraction == 1.0


def test_a_task_waiting_at_the_fork_keeps_the_patience_it_has_left() -> None:
    live = _Live()
    for i in range(3):  # e1 and r1 full for 100 s
        live.controller.submit(f"t{i}", LONG)
    waiting = dataclasses.replace(SHORT, latency_budget_ms=None, deadline_s=80.0)
    live.controller.submit("w", waiting)  # at 0: it may wait until 80 s
    fork = capture(live.controller, 60.0)  # 60 s later: 20 s of patience left

    prediction = run_ahead(fork, [], 60.0)

    # The nodes free at 100 s, 40 s into the run: past the 20 s it had left, so it is not
    # placed (with a fresh patience of 80 s it would be, and would seem to meet its deadline).
    assert prediction.per_task == {"w": ""}
    assert prediction.sla_met_fraction == 0.0
