"""Tables of ``suanwang usage`` and ``suanwang invoice list``.

Dimensions, ids and amounts are whole columns: at 80 columns the usage table shows each
dimension's quantity and the invoice list each period's sums; ``-o wide`` adds each provider's
share of a dimension and each invoice's plan. Amounts are the server's decimal strings, summed
as decimals in the totals row.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.table import Table

from suanwang.cli.output import Kind, iso_time, whole_table


def usage_table(usage: dict[str, Any], wide: bool = False) -> Table:
    """One row per dimension and detail: its quantity in the dimension's unit.

    The title names the tenant (or every tenant), the period, its start and whether it is
    closed; ``wide`` adds each provider's share.
    """
    columns: list[tuple[str, Kind]] = [("dimension", "id"), ("detail", "id")]
    columns += [("quantity", "number")]
    if wide:
        columns += [("providers", "text")]
    rows = []
    for d in usage["dimensions"]:
        row = [d["dimension"], d["detail"], f"{d['quantity']:,.6g}"]
        if wide:
            row.append(", ".join(f"{p} {q:,.6g}" for p, q in d["providers"].items()))
        rows.append(row)
    state = "closed" if usage["closed"] else "open"
    who = usage["tenant"] or "every tenant"
    title = f"{who}, period {usage['period']} from {iso_time(usage['start_s'])} ({state})"
    return whole_table(columns, rows, title=title)


def invoices_table(bills: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per invoice (``<tenant>/<period>``): state, usage, credits, leases, total.

    ``wide`` adds the price plan; a totals row sums the amounts.
    """
    columns: list[tuple[str, Kind]] = [("invoice", "id"), ("state", "id")]
    columns += [("usage", "number"), ("credits", "number"), ("leases", "number")]
    columns += [("total", "number"), ("currency", "id")]
    if wide:
        columns += [("plan", "id")]
    rows = []
    for b in bills:
        leases = sum((Decimal(s["charge"]) for s in b["leases"]), Decimal("0.00"))
        row = [f"{b['tenant']}/{b['period']}", "closed" if b["closed"] else "open"]
        row += [b["usage"], b["credits"], f"{leases:.2f}", b["total"], b["currency"]]
        rows.append([*row, b["plan"]] if wide else row)
    sums = [f"{sum((Decimal(r[i]) for r in rows), Decimal('0.00')):.2f}" for i in range(2, 6)]
    totals = ["total", "", *sums, *([""] * (len(columns) - 6))]
    return whole_table(columns, rows, totals=totals)
