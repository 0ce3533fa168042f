"""``suanwang plan``: place a scenario's request batch and compare profiles against the optimum."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from suanwang.cli.common import bad_input_exits, console, progress_bar
from suanwang.cli.output import (
    AsJson,
    Output,
    OutputFormat,
    chosen,
    keep_whole,
    print_data,
    print_whole,
)

if TYPE_CHECKING:
    from suanwang.scheduling.batch import PlanComparison, PlanRow


def plan(
    scenario: Annotated[str, typer.Argument(help="A built-in name or a scenario file.")],
    *,
    profile: Annotated[
        str,
        typer.Option(
            "--profile", "-p", help="Profile of the batch placement (built-in name or YAML file)."
        ),
    ] = "cats-joint",
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Every built-in profile (online, in arrival order), the batch flow and the "
            "MILP optimum side by side.",
        ),
    ] = False,
    tasks: Annotated[
        int, typer.Option("--tasks", "-n", min=1, max=1_000_000, help="Requests in the batch.")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", "-s", min=0, help="Seed of the batch.")] = 0,
    hour: Annotated[
        int, typer.Option("--hour", min=0, max=23, help="Local hour for carbon intensity.")
    ] = 12,
    milp_limit: Annotated[
        int,
        typer.Option(
            "--milp-limit",
            min=0,
            help="Solve the optimum only while its integer programs stay within this many "
            "(class, node, path) columns; 0: never.",
        ),
    ] = 20_000,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, help="MILP time limit in seconds.")
    ] = 60.0,
    output: Output = None,
    json_output: AsJson = False,
) -> None:
    """Place a scenario's request batch at once (min-cost flow); --compare adds every profile.

    The table shows each row's placed count, SLA %, mean latency, gap and nodes; -o wide adds
    the objective, cost, carbon and solve seconds.
    """
    # Imported here: the scheduler, OR-Tools and the solvers are slow to import, and `suanwang
    # --help` must not pay for them.
    from suanwang.scenario import ScenarioError, resolve_scenario  # noqa: PLC0415
    from suanwang.scheduling import (  # noqa: PLC0415
        ProfileError,
        UnknownPluginError,
        builtin_profiles,
        resolve_profile,
    )
    from suanwang.scheduling.batch import BatchError, compare_profiles  # noqa: PLC0415

    with bad_input_exits(ScenarioError, ProfileError, BatchError, UnknownPluginError):
        loaded = resolve_scenario(scenario)
        flow_profile = resolve_profile(profile)
        requests = _draw(loaded.workload, tasks, seed)
        profiles = {}
        if compare:
            profiles = builtin_profiles()
            profiles.setdefault(flow_profile.name, flow_profile)
        with progress_bar() as progress:
            bar = progress.add_task("placing", total=tasks)

            def step(row: str, done: int, total: int) -> None:
                progress.update(bar, description=f"placing: {row}", completed=done, total=total)

            result = compare_profiles(
                loaded.topology,
                requests,
                profiles=profiles,
                flow_profile=flow_profile,
                optimum=compare and milp_limit > 0,
                time_limit_s=time_limit,
                max_variables=milp_limit,
                hour_of_day=hour,
                progress=step,
            )
    fmt = chosen(output, json_output)
    if fmt.is_data:
        print_data(_as_json(loaded.name, tasks, seed, hour, result), fmt)
        return
    title = f"{loaded.name}: {tasks:,} tasks, seed {seed}"
    print_whole(comparison_table(title, result, wide=fmt is OutputFormat.WIDE))
    for line in _notes(result, flow_profile.name):
        console.print(line, highlight=False)


def _draw(workload: Any, tasks: int, seed: int) -> list[Any]:
    from suanwang.scheduling.batch import draw_batch  # noqa: PLC0415

    return draw_batch(workload, tasks, seed)


def _number(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


WIDE_COLUMNS = ("objective", "cost", "carbon g", "s")
"""The columns of ``plan`` that only ``-o wide`` shows (80 columns keep the rest)."""


def comparison_table(title: str, result: PlanComparison, wide: bool = False) -> Table:
    """One row per profile (and the flow and optimum rows): placed, SLA, time, gap, nodes.

    ``wide`` adds the objective, cost, carbon and the seconds each row took.
    """
    table = Table(title=title, title_justify="left")
    table.add_column("row", style="bold cyan", no_wrap=True)
    columns = ["placed", "SLA %", "mean ms", "cost", "carbon g", "gap pp", "s"]
    if wide:
        table.add_column("objective", min_width=14)
    else:
        columns = [column for column in columns if column not in WIDE_COLUMNS]
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("nodes" if _one_request(result) else "nodes used", no_wrap=True)
    for row in result.rows:
        m = row.metrics
        cells = {
            "placed": f"{m.placed:,}",
            "SLA %": f"{100 * m.sla_satisfaction:.1f}",
            "mean ms": _number(m.mean_ms),
            "cost": f"{m.total_cost:.3g}",
            "carbon g": f"{m.total_carbon_g:.3g}",
            "gap pp": row.gap_text(),
            "s": f"{row.seconds:.2f}",
        }
        objective = [row.objective] if wide else []
        table.add_row(row.name, *objective, *(cells[c] for c in columns), row.nodes_text())
    return keep_whole(table, text=("objective", "nodes", "nodes used"))


def _one_request(result: PlanComparison) -> bool:
    return bool(result.rows) and result.rows[0].metrics.tasks == 1


def _notes(result: PlanComparison, flow_profile: str) -> list[str]:
    lines = []
    for row in result.rows:
        if row.note:
            lines.append(f"{row.name}: {row.note}")
    summary = result.gap_summary()
    if summary:
        lines.append(summary)
    optimum = result.optimum
    if optimum is not None and not optimum.solved:
        lines.append(
            f"milp-optimum: not computed ({optimum.status}, {optimum.variables:,} variables); "
            "raise --milp-limit or --time-limit, or plan fewer tasks"
        )
    for reason, count in result.unplaced_reasons[:3]:
        lines.append(f"batch-flow ({flow_profile}): {count:,} unplaced: {reason}")
    return lines


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def _row_json(row: PlanRow) -> dict[str, Any]:
    m = row.metrics
    return {
        "name": row.name,
        "method": row.method,
        "objective": row.objective,
        "objective_detail": row.detail,
        "tasks": m.tasks,
        "placed": m.placed,
        "sla_met": m.sla_met,
        "sla_satisfaction": m.sla_satisfaction,
        "placed_share": m.placed_share,
        "mean_ms": _finite(m.mean_ms),
        "p95_ms": _finite(m.p95_ms),
        "total_cost": m.total_cost,
        "total_energy_kwh": m.total_energy_kwh,
        "total_carbon_g": m.total_carbon_g,
        "seconds": row.seconds,
        "gap_pp": _finite(row.gap_pp),
        "gap_kind": row.gap_kind,
        "nodes": [{"node": node, "tasks": count} for node, count in row.nodes],
        "note": row.note,
    }


def _as_json(name: str, tasks: int, seed: int, hour: int, result: PlanComparison) -> dict[str, Any]:
    optimum = result.optimum
    return {
        "scenario": name,
        "tasks": tasks,
        "seed": seed,
        "hour_of_day": hour,
        "rows": [_row_json(row) for row in result.rows],
        "gap_reference_sla": result.reference_sla,
        "gap_kind": result.gap_kind,
        "optimum": None
        if optimum is None
        else {
            "status": optimum.status,
            "sla_met": optimum.sla_met,
            "upper_bound": optimum.upper_bound,
            "price": optimum.price,
            "price_optimal": optimum.price_optimal,
            "columns": optimum.columns,
            "variables": optimum.variables,
            "constraints": optimum.constraints,
            "seconds": optimum.seconds,
        },
        "flow": None if result.flow is None else dataclasses.asdict(result.flow),
        "unplaced_reasons": [
            {"reason": reason, "tasks": count} for reason, count in result.unplaced_reasons
        ],
    }
