"""``suanwang twin ...``: run the digital twin over a scenario, and compare profiles in it."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from suanwang.cli.common import bad_input_exits, console, err_console, fail, progress_bar
from suanwang.scenario import ScenarioError, resolve_scenario

if TYPE_CHECKING:
    from suanwang.twin import TwinConfig

app = typer.Typer(
    help="The digital twin: the real scheduler over a scenario's workload, in simulated time.",
    no_args_is_help=True,
)

ScenarioArgument = Annotated[str, typer.Argument(help="A built-in name or a scenario file.")]
DurationOption = Annotated[
    float,
    typer.Option(
        "--duration",
        "-d",
        help="Simulated seconds of arrivals. Kept short for a first try; a workload describes "
        "up to a day (86400).",
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", "-s", min=0, help="Seed of the arrivals.")]
StartHourOption = Annotated[
    float,
    typer.Option(
        "--start-hour", min=0, max=24, help="Local hour at time 0 (20: the evening peak)."
    ),
]
RateOption = Annotated[
    float, typer.Option("--rate-scale", help="Multiply every stream's arrival rate.")
]
NoFailuresOption = Annotated[
    bool, typer.Option("--no-failures", help="Leave out the scenario's failures.")
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Output folder (default: under twin-out/).", file_okay=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _config(
    scenario: str,
    *,
    profile: str,
    duration: float,
    seed: int,
    start_hour: float,
    rate_scale: float,
    no_failures: bool,
    users: int = 0,
    dwell_s: float = 300.0,
) -> TwinConfig:
    from suanwang.twin import MobilityConfig, TwinConfig  # noqa: PLC0415  # keeps --help fast

    if not math.isfinite(duration):  # an endless run, or a progress bar that cannot draw
        raise fail(f"duration must be a finite number of seconds, got {duration}")
    path = Path(scenario)
    return TwinConfig(
        profile=profile,
        duration_s=duration,
        seed=seed,
        start_hour=start_hour,
        rate_scale=rate_scale,
        mobility=MobilityConfig(users=users, dwell_s=dwell_s),
        scenario_failures=not no_failures,
        base_dir=path.resolve().parent if path.is_file() else None,  # trace files sit beside it
    )


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


@app.command("run")
def run(
    scenario: ScenarioArgument,
    *,
    profile: Annotated[
        str, typer.Option("--profile", "-p", help="Scheduling profile (built-in name or YAML).")
    ] = "cats-joint",
    duration: DurationOption = 60.0,
    seed: SeedOption = 1,
    start_hour: StartHourOption = 20.0,
    rate_scale: RateOption = 1.0,
    users: Annotated[int, typer.Option("--users", help="Mobile users moving between sites.")] = 0,
    dwell_s: Annotated[
        float, typer.Option("--dwell-s", help="Mean seconds a mobile user stays at one site.")
    ] = 300.0,
    no_failures: NoFailuresOption = False,
    out: OutOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run the twin once; print SLA, latency, energy and cost, and write the report folder."""
    from suanwang.twin import TwinError, run_twin  # noqa: PLC0415  # keeps --help fast
    from suanwang.twin.compare import check_profiles, overall_latency, profile_label  # noqa: PLC0415
    from suanwang.twin.report import write_report  # noqa: PLC0415
    from suanwang.twin.summary import summarise  # noqa: PLC0415

    with bad_input_exits(ScenarioError, TwinError):
        loaded = resolve_scenario(scenario)
        check_profiles([profile])  # before the progress bar starts
        config = _config(
            scenario,
            profile=profile,
            duration=duration,
            seed=seed,
            start_hour=start_hour,
            rate_scale=rate_scale,
            no_failures=no_failures,
            users=users,
            dwell_s=dwell_s,
        )
        with progress_bar() as progress:
            bar = progress.add_task("simulating", total=max(duration, 0.0))

            def step(done_s: float, generated: int) -> None:
                progress.update(bar, completed=done_s, description=f"{generated:,} tasks")

            result = run_twin(loaded, config, step)
    folder = out or Path("twin-out") / f"{loaded.name}-{profile_label(profile)}-s{seed}"
    with bad_input_exits(OSError):
        write_report(result, folder)
    summary = summarise(result)
    if json_output:
        _print_json({**summary, "output": str(folder)})
        err_console.print(f"report: {folder}", highlight=False)
        return
    console.print(run_table(summary, overall_latency(result).summary()))
    console.print(totals_table(summary))
    console.print(f"report: {folder}", highlight=False)


def run_table(summary: dict[str, Any], overall_ms: dict[str, float]) -> Table:
    """Per class and for all classes: requests, SLA share, latency percentiles, rejections.

    Args:
        summary: The run's ``summarise``.
        overall_ms: Latency percentiles over all classes.
    """
    title = (
        f"{summary['scenario']} · {summary['profile']} · seed {summary['seed']} · "
        f"{summary['duration_s']:g} s from {summary['start_hour']:g} h"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("class", style="bold cyan")
    for column in ("generated", "SLA %", "p50 ms", "p95 ms", "p99 ms", "rejected", "failed"):
        table.add_column(column, justify="right", no_wrap=True)
    rows = [*((name, stats, stats["latency_ms"]) for name, stats in summary["classes"].items())]
    rows.append(("all", summary["tasks"], overall_ms))
    for name, stats, percentiles in rows:
        latency = percentiles if stats["completed"] else {}
        table.add_row(
            name,
            f"{stats['generated']:,}",
            _percent(stats["sla_ratio"] if stats["generated"] else None),
            *(_ms(latency.get(q)) for q in ("p50", "p95", "p99")),
            f"{stats['rejected']:,}",
            f"{stats['failed']:,}",
        )
    return table


def totals_table(summary: dict[str, Any]) -> Table:
    """Energy, carbon, cost, traffic, re-placements, migrations and simulation speed."""
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column(justify="right")
    figures = (
        ("energy", f"{summary['energy_kwh']:,.3f} kWh"),
        ("carbon", f"{summary['carbon_kg']:,.3f} kg CO2e"),
        ("cost", f"{summary['cost']:,.4f}"),
        ("traffic", f"{summary['traffic_gb_hops']:,.3f} GB×hops"),
        ("re-placements", f"{summary['replacements']:,}"),
        ("migrations", f"{summary['migrations']:,}"),
        ("simulated", f"{summary['end_s']:,.1f} s in {summary['wall_s']:.2f} s wall"),
        ("speed", f"{summary['tasks_per_wall_s']:,.0f} tasks per wall second"),
    )
    for name, value in figures:
        table.add_row(name, value)
    return table


def _print_json(data: Any) -> None:
    console.print(json.dumps(data, indent=2), markup=False, highlight=False, soft_wrap=True)


def _split(text: str, option: str) -> list[str]:
    items = list(dict.fromkeys(item.strip() for item in text.split(",") if item.strip()))
    if not items:
        raise fail(f"{option}: name at least one, separated by commas")
    return items


def _seeds(text: str) -> list[int]:
    try:
        return [int(item) for item in _split(text, "--seeds")]
    except ValueError:
        raise fail(f"--seeds: whole numbers separated by commas (got {text!r})") from None


@app.command("compare")
def compare(
    scenario: ScenarioArgument,
    *,
    profiles: Annotated[
        str, typer.Option("--profiles", "-p", help="Profiles to compare, separated by commas.")
    ] = "nearest,compute-only,cats-joint,green",
    duration: DurationOption = 60.0,
    seed: SeedOption = 1,
    start_hour: StartHourOption = 20.0,
    rate_scale: RateOption = 1.0,
    no_failures: NoFailuresOption = False,
    out: OutOption = None,
    json_output: JsonOption = False,
    sweep: Annotated[
        bool, typer.Option("--sweep", help="Run every profile with every seed of --seeds on Ray.")
    ] = False,
    seeds: Annotated[str, typer.Option("--seeds", help="Seeds of a sweep, by commas.")] = "1,2,3",
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="Ray cluster of a sweep (default: a local instance)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="CPUs of a local Ray instance.")
    ] = None,
) -> None:
    """Run one seeded workload under several profiles and compare them side by side."""
    from suanwang.twin import TwinError  # noqa: PLC0415  # keeps --help fast
    from suanwang.twin import compare as twin_compare  # noqa: PLC0415

    names = _split(profiles, "--profiles")
    base = _config(
        scenario,
        profile=names[0],
        duration=duration,
        seed=seed,
        start_hour=start_hour,
        rate_scale=rate_scale,
        no_failures=no_failures,
    )
    if sweep:
        _sweep(
            scenario,
            names,
            _seeds(seeds),
            base,
            out=out,
            json_output=json_output,
            ray_address=ray_address,
            workers=workers,
        )
        return
    with bad_input_exits(ScenarioError, TwinError):
        loaded = resolve_scenario(scenario)
        twin_compare.check_profiles(names)  # before the progress bar starts
        with progress_bar() as progress:
            bar = progress.add_task("simulating", total=max(duration, 0.0) * len(names))
            index = {name: i for i, name in enumerate(names)}

            def step(profile: str, done_s: float, generated: int) -> None:
                progress.update(
                    bar,
                    completed=index[profile] * duration + done_s,
                    description=f"{profile}: {generated:,} tasks",
                )

            results = twin_compare.compare_profiles(loaded, names, base, step)
    folder = out or Path("twin-out") / f"{loaded.name}-compare-s{seed}"
    with bad_input_exits(OSError):
        twin_compare.write_comparison(results, folder)
    rows = twin_compare.comparison_rows(results)
    if json_output:
        _print_json({"scenario": loaded.name, "seed": seed, "rows": rows, "output": str(folder)})
        err_console.print(f"report: {folder}", highlight=False)
        return
    title = f"{loaded.name} · seed {seed} · {duration:g} s from {start_hour:g} h"
    console.print(comparison_table(title, rows))
    console.print(f"report: {folder}", highlight=False)


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


def comparison_table(title: str, rows: list[dict[str, Any]]) -> Table:
    """One row per profile: SLA per class, hot latency, rejections, carbon, cost, traffic.

    To fit 100 columns, classes without requests in any run get no column, and energy (mostly
    the fleet's idle draw, alike for every profile) is left to ``comparison.csv``.
    """
    classes = [c for c in ("hot", "warm", "cold") if any(r[f"sla_{c}"] is not None for r in rows)]
    columns: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("SLA\n%", lambda r: _percent(r["sla_ratio"])),
        *((f"{c}\n%", lambda r, c=c: _percent(r[f"sla_{c}"])) for c in classes),
        *((f"hot\n{q}", lambda r, q=q: _ms(r[f"hot_{q}_ms"])) for q in ("p50", "p95", "p99")),
        ("\nrejected", lambda r: f"{r['rejected']:,}"),
        ("carbon\nkg", lambda r: _figure(r["carbon_kg"])),
        ("\ncost", lambda r: _figure(r["cost"])),
        ("traffic\nGB×hops", lambda r: _figure(r["traffic_gb_hops"])),
        ("re-\nplaced", lambda r: f"{r['replacements']:,}"),
    ]
    table = _compact_table(title, "hot p50 / p95 / p99: latency of hot requests, ms")
    table.add_column("\nprofile", style="bold cyan", no_wrap=True)
    for header, _ in columns:
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(row["profile"], *(cell(row) for _, cell in columns))
    return table


def _sweep(
    scenario: str,
    profiles: list[str],
    seeds: list[int],
    base: TwinConfig,
    *,
    out: Path | None,
    json_output: bool,
    ray_address: str | None,
    workers: int | None,
) -> None:
    from suanwang.twin import TwinError  # noqa: PLC0415
    from suanwang.twin.compare import sweep, sweep_table  # noqa: PLC0415
    from suanwang.twin.report import write_json  # noqa: PLC0415

    with bad_input_exits(ScenarioError, TwinError), progress_bar() as progress:
        bar = progress.add_task("runs on Ray", total=len(profiles) * len(seeds))

        def step(done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total)

        summaries = sweep(
            scenario,
            profiles,
            seeds,
            base,
            ray_address=ray_address,
            workers=workers,
            progress=step,
        )
    table = sweep_table(summaries)
    name = summaries[0]["scenario"]
    folder = out or Path("twin-out") / f"{name}-sweep"
    with bad_input_exits(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "sweep.json", {"table": table, "runs": summaries})
    if json_output:
        _print_json({"scenario": name, "table": table, "output": str(folder)})
        err_console.print(f"report: {folder}", highlight=False)
        return
    console.print(sweep_rich_table(f"{name} · seeds {', '.join(map(str, seeds))}", table))
    console.print(f"report: {folder}", highlight=False)


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
    return table
