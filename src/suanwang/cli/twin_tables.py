"""Tables of ``suanwang twin``: one run, a comparison of profiles, a sweep over seeds."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from rich import box
from rich.table import Table

from suanwang.cli.output import keep_whole


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _figure(value: float) -> str:
    """Three significant digits, without an exponent (small runs have small totals)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


RUN_WIDE_COLUMNS = ("p50 ms", "p99 ms")
"""The columns of ``twin run``'s class table that only ``--format wide`` shows."""


def run_table(summary: dict[str, Any], overall_ms: dict[str, float], wide: bool = False) -> Table:
    """Per class and for all classes: requests, SLA share, latency percentiles, rejections.

    Args:
        summary: The run's ``summarise``.
        overall_ms: Latency percentiles over all classes.
        wide: Add the p50 and p99 latency next to the p95.
    """
    title = (
        f"{summary['scenario']} · {summary['profile']} · seed {summary['seed']} · "
        f"{summary['duration_s']:g} s from {summary['start_hour']:g} h"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("class", style="bold cyan")
    quantiles = ("p50", "p95", "p99") if wide else ("p95",)
    for column in ("generated", "SLA %", *(f"{q} ms" for q in quantiles), "rejected", "failed"):
        table.add_column(column, justify="right", no_wrap=True)
    rows = [*((name, stats, stats["latency_ms"]) for name, stats in summary["classes"].items())]
    rows.append(("all", summary["tasks"], overall_ms))
    for name, stats, percentiles in rows:
        latency = percentiles if stats["completed"] else {}
        table.add_row(
            name,
            f"{stats['generated']:,}",
            _percent(stats["sla_ratio"] if stats["generated"] else None),
            *(_ms(latency.get(q)) for q in quantiles),
            f"{stats['rejected']:,}",
            f"{stats['failed']:,}",
        )
    return keep_whole(table)


def totals_table(summary: dict[str, Any]) -> Table:
    """Energy, carbon, cost, traffic, re-placements, migrations and simulation speed."""
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column(justify="right")
    figures = (
        ("energy", f"{summary['energy_kwh']:,.3f} kWh"),
        ("  of the work", f"{summary['work_energy_kwh']:,.3f} kWh"),
        ("carbon", f"{summary['carbon_kg']:,.3f} kg CO2e"),
        ("  of the work", f"{summary['work_carbon_kg']:,.3f} kg CO2e"),
        ("cost", f"{summary['cost']:,.4f}"),
        ("traffic", f"{summary['traffic_gb_hops']:,.3f} GB×hops"),
        ("re-placements", f"{summary['replacements']:,}"),
        ("migrations", f"{summary['migrations']:,}"),
        ("simulated", f"{summary['end_s']:,.1f} s in {summary['wall_s']:.2f} s wall"),
        ("speed", f"{summary['tasks_per_wall_s']:,.0f} tasks per wall second"),
    )
    for name, value in figures:
        table.add_row(name, value)
    return keep_whole(table)


def bill_table(bill: dict[str, Any]) -> Table:
    """Per tenant and period: each dimension's quantity, amount and SLA credit, and totals."""
    table = Table(
        title=f"bill · plan {bill['plan']} · {bill['currency']} · {bill['events']:,} usage events",
        title_justify="left",
    )
    table.add_column("tenant", style="bold cyan")
    table.add_column("day", justify="right")
    table.add_column("dimension")
    for column in ("quantity", "amount", "credit"):
        table.add_column(column, justify="right", no_wrap=True)
    for invoice in bill["invoices"]:
        for label, line in invoice["dimensions"].items():
            table.add_row(
                invoice["tenant"],
                str(invoice["period"]),
                label,
                _figure(line["quantity"]),
                line["amount"],
                line["credit"],
            )
        table.add_row(invoice["tenant"], str(invoice["period"]), "total", "", invoice["total"], "")
    return keep_whole(table)


def revenue_table(bill: dict[str, Any]) -> Table:
    """Each provider's revenue over the run (charges less SLA credits), and the sum."""
    table = Table(title=f"provider revenue · {bill['currency']}", title_justify="left")
    table.add_column("provider", style="bold cyan")
    table.add_column("revenue", justify="right", no_wrap=True)
    for provider, revenue in bill["providers"].items():
        table.add_row(provider, revenue)
    table.add_row("all", bill["total"])
    return keep_whole(table)


def _compact_table(title: str, caption: str) -> Table:
    """A table without vertical rules, for many columns side by side."""
    return Table(
        title=title,
        title_justify="left",
        caption=caption,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0, 0, 1),
        pad_edge=False,
    )


def comparison_table(title: str, rows: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per profile: SLA, hot p95 latency, rejections, carbon and cost.

    ``wide`` adds the SLA per class, the hot p50 and p99, traffic and re-placements; classes
    without requests in any run get no column. Carbon is the work's (without the fleet's idle
    draw, alike for every profile), and energy and the totals with the idle draw are left to
    ``comparison.csv``.
    """
    classes = [c for c in ("hot", "warm", "cold") if any(r[f"sla_{c}"] is not None for r in rows)]
    quantiles = ("p50", "p95", "p99") if wide else ("p95",)
    columns: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("SLA\n%", lambda r: _percent(r["sla_ratio"])),
        *((f"{c}\n%", lambda r, c=c: _percent(r[f"sla_{c}"])) for c in classes if wide),
        *((f"hot\n{q}", lambda r, q=q: _ms(r[f"hot_{q}_ms"])) for q in quantiles),
        ("\nrejected", lambda r: f"{r['rejected']:,}"),
        ("work CO2\nkg", lambda r: _figure(r["work_carbon_kg"])),
        ("\ncost", lambda r: _figure(r["cost"])),
    ]
    if wide:
        columns += [
            ("traffic\nGB×hops", lambda r: _figure(r["traffic_gb_hops"])),
            ("re-\nplaced", lambda r: f"{r['replacements']:,}"),
        ]
        caption = (
            "hot p50 / p95 / p99: latency of hot requests, ms; work CO2: carbon of the work,"
            " without the idle draw"
        )
    else:
        caption = (
            "hot p95: latency of hot requests, ms; work CO2: without the idle draw;"
            " --format wide: every column"
        )
    table = _compact_table(title, caption)
    table.add_column("\nprofile", style="bold cyan", no_wrap=True)
    for header, _ in columns:
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(row["profile"], *(cell(row) for _, cell in columns))
    return keep_whole(table)


def sweep_rich_table(title: str, rows: list[dict[str, Any]]) -> Table:
    """Per profile: mean and min–max across seeds of SLA, hot p95 latency, carbon and cost."""
    table = _compact_table(title, "each cell: the mean across seeds over the min–max range")
    table.add_column("profile", style="bold cyan", no_wrap=True)
    table.add_column("runs", justify="right")
    columns = {
        "sla_ratio": "SLA %",
        "hot_p95_ms": "hot p95 ms",
        "carbon_kg": "carbon kg",
        "cost": "cost",
    }
    for label in columns.values():
        table.add_column(label, justify="right", no_wrap=True)
    for row in rows:
        cells = []
        for key in columns:
            figure = row[key]
            if figure is None:
                cells.append("-")
                continue
            show = _percent if key == "sla_ratio" else _figure
            mean, low, high = (show(figure[k]) for k in ("mean", "min", "max"))
            cells.append(f"{mean}\n[dim]{low}–{high}[/]")
        table.add_row(row["profile"], str(row["runs"]), *cells, end_section=True)
    return keep_whole(table)
