"""Tables of ``suanwang market``: the book, leases, bills and payouts.

Ids and amounts are whole columns; at 80 columns the important ones fit and the rest (an
offer's nodes, a lease's start and end, a usage line's unit price) go to ``-o wide``. Amounts
are the server's decimal strings, summed as decimals (never floats) in the totals rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import Group
from rich.table import Table

from suanwang.cli.output import Kind, iso_time, whole_table


def _sum(amounts: list[str]) -> str:
    return f"{sum((Decimal(a) for a in amounts), Decimal('0.00')):.2f}"


def book_table(offers: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per offer: id, provider, unit, units sold of units, price, region.

    ``wide`` adds the trust level, the rental class and the nodes sold. A totals row sums
    units and units sold.
    """
    columns: list[tuple[str, Kind]] = [("offer", "id"), ("provider", "id"), ("unit", "id")]
    columns += [("sold", "number"), ("units", "number"), ("price", "number")]
    columns += [("region", "id")]
    if wide:
        columns += [("trust", "id"), ("rental", "id"), ("nodes", "text")]
    rows = []
    for o in offers:
        row = [o["offer_id"], o["provider"], o["unit"], f"{o['sold']:,}", f"{o['units']:,}"]
        row += [o["price"], o["region"]]
        if wide:
            row += [o["trust"], o["rental"], ", ".join(o["node_ids"])]
        rows.append(row)
    sold, units = sum(o["sold"] for o in offers), sum(o["units"] for o in offers)
    totals = ["total", "", "", f"{sold:,}", f"{units:,}", *([""] * (len(columns) - 5))]
    return whole_table(columns, rows, totals=totals)


def offer_table(offer: dict[str, Any], wide: bool = False) -> Table:
    """One listed offer, with its nodes (always: the seller wants to see what it listed)."""
    return book_table([offer], wide=True)


def balance_table(paid: dict[str, Any], wide: bool = False) -> Table:
    """A tenant's balance after a deposit."""
    columns: list[tuple[str, Kind]] = [("tenant", "id"), ("balance", "number")]
    return whole_table(columns, [[paid["tenant"], paid["balance"]]])


def lease_table(leases: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per lease: id, tenant, provider, units, a period's amount, state, nodes.

    The state is ``active`` or ``ended``; ``wide`` adds the offer, start, end and the reason
    it ended.
    """
    columns: list[tuple[str, Kind]] = [("lease", "id"), ("tenant", "id"), ("provider", "id")]
    columns += [("units", "number"), ("a period", "number"), ("state", "id")]
    if wide:
        columns += [("offer", "id"), ("started", "number"), ("ended", "number")]
        columns += [("reason", "text")]
    columns += [("nodes", "text")]
    rows = []
    for x in leases:
        row = [x["lease_id"], x["tenant"], x["provider"], f"{x['units']:,}", x["amount"]]
        row.append("active" if x["active"] else "ended")
        if wide:
            row += [x["offer_id"], iso_time(x["started_s"]), iso_time(x["ended_s"])]
            row.append(x["end_reason"] or "")
        row.append(", ".join(x["node_ids"]))
        rows.append(row)
    return whole_table(columns, rows)


def bills_table(bills: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per tenant's bill: usage, credits, leases' charges, total; a totals row."""
    columns: list[tuple[str, Kind]] = [("tenant", "id"), ("period", "number")]
    columns += [("usage", "number"), ("credits", "number"), ("leases", "number")]
    columns += [("total", "number"), ("currency", "id")]
    rows = []
    for b in bills:
        leases = _sum([s["charge"] for s in b["leases"]])
        row = [b["tenant"], str(b["period"]), b["usage"], b["credits"], leases, b["total"]]
        rows.append([*row, b["currency"]])
    totals = ["total", ""]
    totals += [_sum([r[i] for r in rows]) for i in range(2, 6)]
    return whole_table(columns, rows, totals=[*totals, ""])


def bill_view(bill: dict[str, Any], wide: bool = False) -> Group:
    """A tenant's bill: its usage lines, its leases' settlements, and the sums."""
    columns: list[tuple[str, Kind]] = [("provider", "id"), ("dimension", "id"), ("detail", "id")]
    columns += [("quantity", "number")]
    if wide:
        columns += [("unit price", "number"), ("sla", "id"), ("late", "id")]
    columns += [("amount", "number"), ("credit", "number")]
    rows = []
    for line in bill["lines"]:
        row = [line["provider"], line["dimension"], line["detail"], f"{line['quantity']:,.6g}"]
        if wide:
            sla = "met" if line["sla_met"] else "missed"
            row += [line["unit_price"], sla, "late" if line["late"] else ""]
        rows.append([*row, line["amount"], line["credit"]])
    usage = whole_table(columns, rows, title="usage")
    settled: list[tuple[str, Kind]] = [("lease", "id"), ("charge", "number")]
    settled += [("payout", "number"), ("fee", "number")]
    lease_rows = [[s["lease_id"], s["charge"], s["payout"], s["fee"]] for s in bill["leases"]]
    leases = whole_table(settled, lease_rows, title="leases")
    state = "closed" if bill["closed"] else "open"
    sums: list[tuple[str, Kind]] = [("tenant", "id"), ("period", "number"), ("state", "id")]
    sums += [("usage", "number"), ("credits", "number"), ("total", "number"), ("currency", "id")]
    sum_row = [bill["tenant"], str(bill["period"]), state, bill["usage"], bill["credits"]]
    summary = whole_table(sums, [[*sum_row, bill["total"], bill["currency"]]])
    return Group(usage, leases, summary)


def payouts_table(payouts: dict[str, Any], wide: bool = False) -> Table:
    """One row per provider: what it earned; the platform's fees last when shown (staff)."""
    columns: list[tuple[str, Kind]] = [("provider", "id"), ("earned", "number")]
    rows = [[name, amount] for name, amount in payouts["payouts"].items()]
    if payouts.get("fees") is not None:
        rows.append(["(platform fees)", payouts["fees"]])
    return whole_table(columns, rows, totals=["total", _sum([r[1] for r in rows])])
