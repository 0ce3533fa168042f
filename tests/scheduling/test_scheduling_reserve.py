"""Reserve and unreserve: idempotent per task id; a failed reserve changes nothing.

Checked on the ledger itself (``Reservations``), on the Reserve point (``LedgerReserve``) and
through the scheduler (a Bind that refuses must leave the ledger as it was).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from suanwang.model import AcceleratorKind, Placement, TaskSpec
from suanwang.scheduling import (
    ChosenPath,
    ClusterState,
    Code,
    OverCommitError,
    Request,
    Reservation,
    Reservations,
    ReservePlugin,
)
from suanwang.scheduling.plugins.points import LedgerReserve

GPU = AcceleratorKind.GPU
# hand_topology: nodes edge-cpu 0 (8 cores, 16 GiB), region-gpu 2 (2 GPUs);
# links u-e 0 (1,000 Mbps), e-r 1 (100 Mbps), r-h 2, u-n 3
EDGE_CPU, REGION_GPU = 0, 2
U_E, E_R = 0, 1


def _sums(ledger: Reservations) -> tuple[np.ndarray, ...]:
    return tuple(
        array.copy()
        for array in (ledger.cpu_cores, ledger.mem_gib, ledger.accelerators, ledger.link_mbps)
    )


def _assert_same(before: tuple[np.ndarray, ...], ledger: Reservations) -> None:
    for old, new in zip(before, _sums(ledger), strict=True):
        np.testing.assert_array_equal(old, new)


@pytest.fixture
def ledger(sw: Any) -> Reservations:
    return Reservations(sw.hand_topology().arrays)


def test_reserve_is_idempotent_per_task(ledger: Reservations) -> None:
    r = Reservation("t1", EDGE_CPU, 2.0, 4.0, links=(U_E,), bandwidth_mbps=10.0)
    assert ledger.reserve(r) is True
    after_first = _sums(ledger)
    assert ledger.reserve(r) is False  # a retried bind: counted once
    _assert_same(after_first, ledger)
    assert len(ledger) == 1
    assert ledger.held("t1") == r
    assert "t1" in ledger


def test_a_different_reservation_under_a_held_id_is_refused(ledger: Reservations) -> None:
    ledger.reserve(Reservation("t1", EDGE_CPU, 2.0, 4.0))
    before = _sums(ledger)
    with pytest.raises(OverCommitError, match="already holds a different reservation"):
        ledger.reserve(Reservation("t1", EDGE_CPU, 3.0, 4.0))
    _assert_same(before, ledger)
    assert ledger.held("t1") == Reservation("t1", EDGE_CPU, 2.0, 4.0)


def test_release_is_idempotent_and_ignores_unknown_ids(ledger: Reservations) -> None:
    r = Reservation("t1", REGION_GPU, 4.0, 8.0, GPU, 1, (U_E, E_R), 50.0)
    ledger.reserve(r)
    assert ledger.release("nobody") is None
    assert ledger.release("t1") == r
    assert ledger.release("t1") is None
    assert len(ledger) == 0
    for array in _sums(ledger):
        assert not array.any()


FAILING = [
    (Reservation("f", EDGE_CPU, 9.0, 1.0), "lacks 9.0 free cores"),
    (Reservation("f", EDGE_CPU, 1.0, 17.0), "lacks 17.0 GiB free memory"),
    (Reservation("f", EDGE_CPU, 1.0, 1.0, GPU, 1), "lacks 1 free gpu"),
    (Reservation("f", REGION_GPU, 1.0, 1.0, GPU, 3), "lacks 3 free gpu"),
    (Reservation("f", EDGE_CPU, 1.0, 1.0, links=(U_E,), bandwidth_mbps=1_001.0), "'u-e' lacks"),
    # the first link has room, the second not: the first must not be charged either
    (Reservation("f", REGION_GPU, 1.0, 1.0, links=(U_E, E_R), bandwidth_mbps=150.0), "'e-r'"),
    (Reservation("f", EDGE_CPU, 1.0, 1.0, links=(U_E, U_E), bandwidth_mbps=1.0), "link twice"),
]


@pytest.mark.parametrize(("reservation", "message"), FAILING)
def test_failed_reserve_leaves_the_ledger_unchanged(
    ledger: Reservations, reservation: Reservation, message: str
) -> None:
    ledger.reserve(Reservation("other", REGION_GPU, 1.0, 1.0, GPU, 1, (U_E,), 5.0))
    before = _sums(ledger)
    with pytest.raises(OverCommitError, match=message):
        ledger.reserve(reservation)
    _assert_same(before, ledger)
    assert "f" not in ledger
    assert len(ledger) == 1


def test_exactly_the_free_capacity_fits_despite_rounding(ledger: Reservations) -> None:
    for k in range(80):  # 80 x 0.1 cores: the float sum drifts around 8.0
        ledger.reserve(Reservation(f"t{k}", EDGE_CPU, 0.1, 0.2))
    with pytest.raises(OverCommitError):
        ledger.reserve(Reservation("one-more", EDGE_CPU, 0.1, 0.0))
    for k in range(80):
        ledger.release(f"t{k}")
    assert ledger.cpu_cores[EDGE_CPU] == 0.0  # exactly zero once nothing is held
    assert ledger.mem_gib[EDGE_CPU] == 0.0


def _placement(task_id: str = "t1") -> Placement:
    return Placement(task_id, "edge-cpu", ("U", "E"), ("u-e",), reserved_bandwidth_mbps=100.0)


def test_ledger_reserve_point_is_idempotent_and_atomic(sw: Any) -> None:
    state = ClusterState(sw.hand_topology())
    point = LedgerReserve(state.reservations)
    assert isinstance(point, ReservePlugin)
    cycle = sw.cycle_for(state, TaskSpec(1.0, cpu_cores=6.0, mem_gib=2.0, ingress_site="U"))
    assert point.reserve(cycle, _placement()).code is Code.ERROR  # no node chosen yet

    cycle.chosen_node, cycle.chosen_path = EDGE_CPU, ChosenPath(("U", "E"), ("u-e",), (U_E,))
    assert point.reserve(cycle, _placement()).ok
    held = _sums(state.reservations)
    assert held[0][EDGE_CPU] == 6.0
    assert held[3][U_E] == 100.0
    assert point.reserve(cycle, _placement()).ok  # again: nothing more is held
    _assert_same(held, state.reservations)

    status = point.reserve(cycle, _placement("t2"))  # 6 more cores do not fit on 8
    assert status.code is Code.UNSCHEDULABLE
    assert status.plugin == "ledger"
    assert "lacks 6.0 free cores" in status.reason
    _assert_same(held, state.reservations)

    point.unreserve("t1")
    point.unreserve("t1")
    point.unreserve("never-held")
    for array in _sums(state.reservations):
        assert not array.any()


def test_scheduler_release_is_idempotent(sw: Any) -> None:
    scheduler = sw.scheduler(sw.hand_topology(), filters=("resource-fit",))
    spec = TaskSpec(1.0, cpu_cores=2.0, ingress_site="U", data_in_mb=1.0, latency_budget_ms=100.0)
    for k in range(5):
        assert scheduler.schedule(Request(f"t{k}", spec)).placement is not None
    ledger = scheduler.state.reservations
    assert len(ledger) == 5
    for k in (3, 3, 0, 99, 1, 4, 2, 2):
        scheduler.release(f"t{k}")
    assert len(ledger) == 0
    for array in _sums(ledger):
        assert not array.any()


def test_runs_moving_input_count_as_flows_until_their_input_arrives(ledger: Reservations) -> None:
    assert ledger.flow_version == 0
    ledger.reserve(Reservation("a", EDGE_CPU, 1.0, 1.0, links=(U_E, E_R)))
    ledger.reserve(Reservation("b", EDGE_CPU, 1.0, 1.0, links=(U_E,), bandwidth_mbps=10.0))
    ledger.reserve(Reservation("local", EDGE_CPU, 1.0, 1.0))
    assert ledger.flow_version == 0  # placed, not started: nothing moves yet
    for task_id in ("a", "b", "b", "local", "unknown"):  # no path, or not held: no flow
        ledger.input_moving(task_id)
    assert ledger.link_flows[[U_E, E_R]].tolist() == [2.0, 1.0]
    moved = ledger.flow_version
    assert moved != 0
    ledger.input_arrived("a")
    ledger.input_arrived("a")  # a repeated report counts once
    assert ledger.link_flows[[U_E, E_R]].tolist() == [1.0, 0.0]
    assert ledger.flow_version not in (0, moved)
    ledger.release("a")  # its input was in: releasing it moves no flow count
    assert ledger.link_flows[U_E] == 1.0
    ledger.release("b")  # released while still moving input
    assert not ledger.link_flows.any()
    assert ledger.flow_version == 0


def test_a_new_flow_gets_its_reservation_and_a_share_of_the_spare(ledger: Reservations) -> None:
    # u-e 1,000 Mbps: 100 reserved by a moving run, 200 by one whose input is in
    ledger.reserve(Reservation("moving", EDGE_CPU, 0.0, 0.0, links=(U_E,), bandwidth_mbps=100.0))
    ledger.reserve(Reservation("done", EDGE_CPU, 0.0, 0.0, links=(U_E,), bandwidth_mbps=200.0))
    ledger.input_moving("moving")
    rate = ledger.shared_rate_mbps(50.0)
    # 50 of its own + (700 - 50) shared by two flows; e-r (100 Mbps) has no flow: its residual
    assert rate[U_E] == pytest.approx(50.0 + 650.0 / 2)
    assert rate[E_R] == pytest.approx(100.0)
    assert ledger.shared_rate_mbps(0.0)[U_E] == pytest.approx(350.0)


def test_copies_keep_the_flows(ledger: Reservations) -> None:
    ledger.reserve(Reservation("a", EDGE_CPU, 1.0, 1.0, links=(U_E,)))
    ledger.reserve(Reservation("b", EDGE_CPU, 1.0, 1.0, links=(U_E,)))
    ledger.input_moving("a")
    ledger.input_moving("b")
    frozen = ledger.frozen_copy()
    assert frozen.link_flows[U_E] == 2.0
    assert frozen.flow_version == ledger.flow_version
    without = ledger.copy_without(["a"])
    assert without.link_flows[U_E] == 1.0
    assert ledger.link_flows[U_E] == 2.0  # the original is untouched
