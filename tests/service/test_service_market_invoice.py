"""End to end, to the cent: a provider offers, a consumer leases, its runs are metered, and the
period's bill equals the total worked out by hand below from the plan's unit prices.

Periods are one day on a manual clock that starts in period 10; the platform keeps a tenth of
every lease settlement. The plan is written here so the arithmetic reads plainly; every line is
rounded once to a cent, half to even, and a missed SLA credits a quarter of its line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from suanwang.bootstrap import journal_for
from suanwang.control.ports import ManualClock
from suanwang.control.stores import Principal, Role
from suanwang.execution import AgentDispatch
from suanwang.market import Dimension, Offer, Want, parse_plan
from suanwang.model import Precision, TaskSpec, TaskState
from suanwang.scenario import load_builtin
from suanwang.scheduling import resolve_profile
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.storage import Stores, open_store
from suanwang.storage.market import open_market

DAY_S = 86_400.0
START_S = 10 * DAY_S  # inside period 10
ACME = Principal("alice", "acme", frozenset({Role.CONSUMER}))
PLAN = parse_plan(
    yaml.safe_load(
        """
        plan: hand
        currency: CNY
        sla_credit: "0.25"
        rates:
          core-s: "0.0001"
          gib-s: "0.00001"
          accelerator-s: {gpu: "0.002"}
          gflop: {fp32: "0.002", "*": "0.001"}
          network-gb: "0.20"
          mbps-s: "0.00001"
          tasks: "0.015"
        """
    ),
    "test plan",
)
# Two cores, 4 GiB, 1,234.5 GFLOP at FP32, 100 MB in and 50 MB out: 0.15 GB moved a run.
SPEC = TaskSpec(
    work_gflop=1234.5,
    precision=Precision.FP32,
    cpu_cores=2.0,
    mem_gib=4.0,
    data_in_mb=100.0,
    data_out_mb=50.0,
    ingress_site="term-futian",
)


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[tuple[ControlPlane, ManualClock]]:
    clock = ManualClock(START_S)
    with open_store(f"sqlite:///{tmp_path / 'plane.db'}") as stores:
        live = make_plane(stores, clock)
        try:
            yield live, clock
        finally:
            live.stop()


def make_plane(stores: Stores, clock: ManualClock) -> ControlPlane:
    plane = ControlPlane(
        stores,
        journal_for(stores),
        load_builtin("metro-edge"),
        resolve_profile("cats-joint"),
        dispatch=AgentDispatch,
        clock=clock,
        agents=AgentPolicy(require_agent=False),
        market=open_market(stores, DAY_S, Decimal("0.10")),
        plan=PLAN,
    )
    plane.start()
    return plane


def run(
    plane: ControlPlane, clock: ManualClock, spec: TaskSpec, seconds: float, ok: bool
) -> tuple[str, str]:
    """Submit ``spec``, start it at once, end it ``seconds`` later; (task id, node)."""
    task = plane.submit(ACME, spec).result(30).task
    assert task.placement is not None, task.reason
    node = task.placement.node_id
    plane.report(ACME, node, task.id, finished=False, ok=True, reason="").result(30)
    clock.advance(seconds)
    reason = "ok" if ok else "exit status 1"
    done = plane.report(ACME, node, task.id, finished=True, ok=ok, reason=reason).result(30)
    assert done.state is (TaskState.COMPLETED if ok else TaskState.FAILED), done.reason
    return task.id, node


def test_the_bill_of_a_leased_period_equals_the_hand_computation(
    plane: tuple[ControlPlane, ManualClock],
) -> None:
    live, clock = plane
    market = live.market
    assert market is not None
    nodes = live.live.controller.state.topology.nodes
    hospital = sorted(n for n, node in nodes.items() if node.owner == "hospital")[:2]
    offer = Offer("hosp-2", "hospital", "node.day", 2, Decimal("40.00"), "CN-GD-SZ")
    market.offer("hospital", offer, hospital)
    market.store.deposit("acme", Decimal("200.00"))
    (lease,) = market.order("L1", Want("acme", "node.day", 2, Decimal("45.00")))
    assert sorted(lease.node_ids) == hospital
    assert market.store.balance("acme") == Decimal("120.00")  # one period held: 2 x 40.00

    ran = [
        run(live, clock, SPEC, 3600.0, ok=True),  # A: an hour, SLA met
        run(live, clock, SPEC, 1800.0, ok=True),  # B: half an hour, SLA met
        # C: completes after 1,000 s against a deadline of 600 s from submission: SLA missed.
        run(live, clock, replace(SPEC, deadline_s=600.0), 1000.0, ok=True),
        run(live, clock, SPEC, 200.0, ok=False),  # D: fails after 200 s: SLA missed
    ]
    assert {node for _, node in ran} <= set(hospital)  # every run on the leased nodes
    events = market.store.usage_events(10, "acme")
    tasks_events = [e.run_id.split("@")[0] for e in events if e.dimension is Dimension.TASKS]
    assert sorted(tasks_events) == sorted(task_id for task_id, _ in ran)  # once per run

    clock.advance(DAY_S)
    bills = {bill.tenant: bill for bill in market.close(10)}
    bill = bills["acme"]
    lines = {(line.dimension, line.sla_met): line for line in bill.invoice.lines}
    assert {line.provider for line in bill.invoice.lines} == {"hospital"}
    assert not any(line.late for line in bill.invoice.lines)

    # By hand. Runs that met their SLA, A and B, held 3,600 + 1,800 = 5,400 s:
    #   core-s   2 x 5,400 = 10,800 x 0.0001  = 1.08
    #   gib-s    4 x 5,400 = 21,600 x 0.00001 = 0.216    -> 0.22
    #   tasks    2 x 0.015                    = 0.03
    #   gflop    2 x 1,234.5 = 2,469 x 0.002  = 4.938    -> 4.94
    #   net-gb   2 x 0.15 = 0.3 x 0.20        = 0.06
    met = {
        Dimension.CORE_SECONDS: (10_800.0, "1.08"),
        Dimension.MEMORY_GIB_SECONDS: (21_600.0, "0.22"),
        Dimension.TASKS: (2.0, "0.03"),
        Dimension.GFLOP: (2469.0, "4.94"),
        Dimension.NETWORK_GB: (0.3, "0.06"),
    }
    # Runs that missed it, C (completed) and D (failed, so no GFLOP or data), held 1,200 s;
    # each line's credit is a quarter of it, rounded half to even:
    #   core-s   2 x 1,200 = 2,400 x 0.0001   = 0.24,  credit 0.06
    #   gib-s    4 x 1,200 = 4,800 x 0.00001  = 0.048   -> 0.05, credit 0.0125 -> 0.01
    #   tasks    2 x 0.015                    = 0.03,  credit 0.0075 -> 0.01
    #   gflop    1,234.5 x 0.002              = 2.469   -> 2.47, credit 0.6175 -> 0.62
    #   net-gb   0.15 x 0.20                  = 0.03,  credit 0.0075 -> 0.01
    #   mbps-s   C's deadline reserved 20 Mbps on its path for its 1,000 s:
    #            20 x 1,000 = 20,000 x 0.00001 = 0.20,  credit 0.05
    missed = {
        Dimension.CORE_SECONDS: (2400.0, "0.24", "0.06"),
        Dimension.MEMORY_GIB_SECONDS: (4800.0, "0.05", "0.01"),
        Dimension.TASKS: (2.0, "0.03", "0.01"),
        Dimension.GFLOP: (1234.5, "2.47", "0.62"),
        Dimension.NETWORK_GB: (0.15, "0.03", "0.01"),
        Dimension.BANDWIDTH_MBPS_SECONDS: (20_000.0, "0.20", "0.05"),
    }
    assert set(lines) == {(d, True) for d in met} | {(d, False) for d in missed}
    for dimension, (quantity, amount) in met.items():
        line = lines[(dimension, True)]
        assert (line.quantity, line.amount, line.credit) == (
            pytest.approx(quantity),
            Decimal(amount),
            Decimal("0.00"),
        ), dimension
        assert line.unit_price == PLAN.unit_price(dimension, line.detail)
    for dimension, (quantity, amount, credit) in missed.items():
        line = lines[(dimension, False)]
        assert (line.quantity, line.amount, line.credit) == (
            pytest.approx(quantity),
            Decimal(amount),
            Decimal(credit),
        ), dimension
    # Charges 1.08 + 0.22 + 0.03 + 4.94 + 0.06 + 0.24 + 0.05 + 0.03 + 2.47 + 0.03 + 0.20 = 9.35;
    # credits 0.06 + 0.01 + 0.01 + 0.62 + 0.01 + 0.05 = 0.76; usage 9.35 - 0.76 = 8.59.
    assert (bill.invoice.charges, bill.invoice.credits) == (Decimal("9.35"), Decimal("0.76"))
    assert bill.invoice.total == Decimal("8.59")
    assert bill.invoice.revenue_by_provider() == {"hospital": Decimal("8.59")}
    # The lease: 2 nodes x 40.00 a day = 80.00 for period 10, paid from its hold; the platform
    # keeps 10 % = 8.00 and the provider is paid 72.00. The bill: 8.59 + 80.00 = 88.59.
    (settled,) = bill.leases
    assert (settled.lease_id, settled.charge, settled.payout, settled.fee) == (
        "L1",
        Decimal("80.00"),
        Decimal("72.00"),
        Decimal("8.00"),
    )
    assert bill.total == Decimal("88.59")
    assert market.store.payouts() == {"hospital": Decimal("72.00")}
    assert market.store.fees() == Decimal("8.00")
    assert market.store.balance("acme") == Decimal("120.00")  # the hold paid the period
    assert market.bills(10, "acme") == [bill]  # read back the same after the close
