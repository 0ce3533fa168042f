"""Rating: plans as data, invoices by hand, credits for missed SLAs, errors naming the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from suanwang.market import (
    Dimension,
    Meter,
    RatingError,
    UsageEvent,
    builtin_plan,
    invoices,
    load_plan,
    parse_plan,
    rate,
)

D = Decimal
PLAN = {
    "plan": "test",
    "currency": "cny",
    "sla_credit": "0.5",
    "rates": {
        "core-s": "0.001",
        "accelerator-s": {"gpu": "0.01", "*": "0.002"},
        "network-gb": "0.20",
        "tasks": "0.05",
    },
}


def _meter() -> Meter:
    meter = Meter(period_s=3600.0)
    for event in (
        UsageEvent("r1", "alice", "p1", Dimension.CORE_SECONDS, 1000.0, 10.0),
        UsageEvent("r1", "alice", "p1", Dimension.TASKS, 1.0, 10.0),
        UsageEvent("r1", "alice", "p1", Dimension.NETWORK_GB, 2.5, 10.0),
        UsageEvent("r2", "alice", "p2", Dimension.ACCELERATOR_SECONDS, 100.0, 20.0, "gpu", False),
        UsageEvent("r2", "alice", "p2", Dimension.TASKS, 1.0, 20.0, sla_met=False),
        UsageEvent("r3", "alice", "p2", Dimension.ACCELERATOR_SECONDS, 100.0, 30.0, "npu"),
        UsageEvent("r4", "bob", "p1", Dimension.CORE_SECONDS, 1.0, 30.0),
    ):
        meter.ingest(event)
    return meter


def test_an_invoice_equals_the_hand_computation() -> None:
    plan = parse_plan(PLAN, "test")
    invoice = rate("alice", 0, _meter().lines(0), plan)
    # 1000 core-s x 0.001 = 1.00; 2 tasks x 0.05 = 0.10; 2.5 GB x 0.20 = 0.50;
    # 100 gpu-s x 0.01 = 1.00 (SLA missed: credit 0.50); 100 npu-s x 0.002 = 0.20.
    assert invoice.charges == D("2.80")
    assert invoice.credits == D("0.52")  # 0.50 on the GPU line, 0.02 on the task (0.025, to even)
    assert invoice.total == D("2.28")
    assert invoice.currency == "CNY"
    assert invoice.revenue_by_provider() == {"p1": D("1.55"), "p2": D("0.73")}
    assert sum(invoice.revenue_by_provider().values()) == invoice.total
    keys = sorted(k for line in invoice.lines for k in line.keys)
    assert keys == sorted(
        [
            "r1/core-s",
            "r1/tasks",
            "r1/network-gb",
            "r2/accelerator-s/gpu",
            "r2/tasks",
            "r3/accelerator-s/npu",
        ]
    )


def test_one_invoice_per_tenant() -> None:
    bills = invoices(_meter().lines(0), 0, parse_plan(PLAN, "test"))
    assert [b.tenant for b in bills] == ["alice", "bob"]
    assert bills[1].total == D("0.00")  # 1 core-s x 0.001 rounds to nothing


def test_usage_the_plan_does_not_price_is_an_error_not_free() -> None:
    plan = parse_plan({**PLAN, "rates": {"core-s": "0.001"}}, "test")
    with pytest.raises(RatingError, match="does not price tasks"):
        rate("alice", 0, _meter().lines(0), plan)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rates": {"core-s": 0.001}}, r"rates.core-s: 0.001: write prices as quoted decimals"),
        ({"rates": {"core-s": "-1"}}, r"rates.core-s: '-1' is not a finite price"),
        ({"rates": {"cores": "1"}}, r"rates.cores: not a dimension"),
        ({"rates": {"accelerator-s": {"gpu": "x"}}}, r"rates.accelerator-s.gpu: 'x' is not"),
        ({"currency": "yuan"}, "currency"),
        ({"sla_credit": "2"}, "sla_credit"),
        ({"extra": 1}, "unknown fields"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(RatingError, match=message):
        parse_plan({**PLAN, **change}, "plan.yaml")


def test_plans_load_from_files_and_the_builtin_prices_every_dimension(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("plan: p\ncurrency: EUR\nrates:\n  tasks: '1'\n", "utf-8")
    assert load_plan(path).unit_price(Dimension.TASKS, "") == D("1")
    path.write_text("plan: [unclosed\n", "utf-8")
    with pytest.raises(RatingError, match=str(path)):
        load_plan(path)
    plan = builtin_plan()
    for dimension in Dimension:
        details = (
            ("gpu", "npu", "fpga", "dpu") if dimension is Dimension.ACCELERATOR_SECONDS else ("",)
        )
        for detail in details:
            assert plan.unit_price(dimension, detail) >= 0
