"""``suanwang twin ...``: run the digital twin over a scenario, and compare profiles in it."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from suanwang.cli.common import bad_input_exits, console, err_console, fail, progress_bar
from suanwang.cli.output import OutputFormat, chosen, print_data, print_whole
from suanwang.cli.twin_defaults import RunDurationOption, RunRateOption, first_run
from suanwang.cli.twin_tables import (
    bill_table,
    comparison_table,
    revenue_table,
    run_table,
    sweep_rich_table,
    totals_table,
)

if TYPE_CHECKING:
    from suanwang.market import Meter, PricePlan
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
JsonOption = Annotated[bool, typer.Option("--json", help="Same as --format json.")]
RunFormatOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        help="table (fits 80 columns), wide (adds the p50 and p99 latency), json or yaml.",
        show_default=False,
        case_sensitive=False,
    ),
]
CompareFormatOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        help="table (fits 80 columns), wide (adds the SLA per class, hot p50 and p99, traffic "
        "and re-placements), json or yaml.",
        show_default=False,
        case_sensitive=False,
    ),
]
OverwriteOption = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Write into the output folder even if it holds files (default: the next free "
        "folder, NAME-2, NAME-3, ...).",
    ),
]

MAX_FOLDERS = 1000
"""Most numbered folders tried before giving up on a free one."""


def free_folder(folder: Path, *, overwrite: bool) -> Path:
    """``folder`` if it is missing, empty or ``overwrite`` is set; else ``folder-2``, ``-3``..."""
    if overwrite or not folder.exists() or not any(folder.iterdir()):
        return folder
    for number in range(2, MAX_FOLDERS + 1):
        candidate = folder.with_name(f"{folder.name}-{number}")
        if not candidate.exists() or not any(candidate.iterdir()):
            return candidate
    raise fail(f"{folder}: {MAX_FOLDERS} numbered folders exist; use --out or --overwrite")


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


@app.command("run")
def run(
    scenario: ScenarioArgument,
    *,
    profile: Annotated[
        str, typer.Option("--profile", "-p", help="Scheduling profile (built-in name or YAML).")
    ] = "cats-joint",
    duration: RunDurationOption = None,
    seed: SeedOption = 1,
    start_hour: StartHourOption = 20.0,
    rate_scale: RunRateOption = None,
    users: Annotated[int, typer.Option("--users", help="Mobile users moving between sites.")] = 0,
    dwell_s: Annotated[
        float, typer.Option("--dwell-s", help="Mean seconds a mobile user stays at one site.")
    ] = 300.0,
    no_failures: NoFailuresOption = False,
    out: OutOption = None,
    overwrite: OverwriteOption = False,
    output_format: RunFormatOption = None,
    json_output: JsonOption = False,
    bill_plan: Annotated[
        str | None,
        typer.Option(
            "--bill",
            help="Meter every run; print its bill under a plan: 'standard' or a YAML file.",
        ),
    ] = None,
    decide: Annotated[
        str,
        typer.Option(
            "--decide",
            help="online (each arrival one decision, exact) or slice (each demand ranked once "
            "a --slice-ms slice, arrivals placed on arrival; much faster, less exact).",
        ),
    ] = "online",
    slice_ms: Annotated[
        float, typer.Option("--slice-ms", help="Slice length of --decide slice, simulated ms.")
    ] = 60_000.0,
) -> None:
    """Run the twin once; print SLA, latency, energy and cost, and write the report folder.

    The class table shows the p95 latency; --format wide adds the p50 and p99. Without
    --duration and --rate-scale a built-in runs the window and rate measured to load it
    visibly (twin_defaults.FIRST_RUNS). With --bill every run's usage is metered and the
    invoices per tenant and each provider's revenue are printed (and under "bill" in --json).
    """
    # Imported here: the twin, the scheduler and the scenario schema are slow to import.
    from suanwang.scenario import ScenarioError, resolve_scenario  # noqa: PLC0415
    from suanwang.twin import TwinError, run_twin  # noqa: PLC0415
    from suanwang.twin.compare import check_profiles, overall_latency, profile_label  # noqa: PLC0415
    from suanwang.twin.report import write_report  # noqa: PLC0415
    from suanwang.twin.summary import summarise  # noqa: PLC0415

    window = first_run(scenario, duration, rate_scale)
    duration = window.duration_s
    plan = _plan(bill_plan)
    with bad_input_exits(ScenarioError, TwinError):
        loaded = resolve_scenario(scenario)
        check_profiles([profile])  # before the progress bar starts
        config = _config(
            scenario,
            profile=profile,
            duration=duration,
            seed=seed,
            start_hour=start_hour,
            rate_scale=window.rate_scale,
            no_failures=no_failures,
            users=users,
            dwell_s=dwell_s,
        )
        if decide not in {"online", "slice"}:
            raise fail(f"--decide must be online or slice, got {decide!r}")
        config = dataclasses.replace(
            config,
            billing=plan is not None,
            decide="slice" if decide == "slice" else "online",
            slice_ms=slice_ms,
        )
        with progress_bar() as progress:
            bar = progress.add_task("simulating", total=max(duration, 0.0))

            def step(done_s: float, generated: int) -> None:
                progress.update(bar, completed=done_s, description=f"{generated:,} tasks")

            result = run_twin(loaded, config, step)
    folder = out or Path("twin-out") / f"{loaded.name}-{profile_label(profile)}-s{seed}"
    with bad_input_exits(OSError):
        folder = free_folder(folder, overwrite=overwrite)
        write_report(result, folder)
    summary = summarise(result)
    charged = _bill(result.usage, plan)
    fmt = chosen(output_format, json_output)
    if fmt.is_data:
        extra = {"bill": charged} if charged is not None else {}
        print_data({**summary, **extra, "output": str(folder)}, fmt)
        err_console.print(f"report: {folder}", highlight=False)
        return
    overall = overall_latency(result).summary()
    print_whole(run_table(summary, overall, wide=fmt is OutputFormat.WIDE))
    print_whole(totals_table(summary))
    if charged is not None:
        print_whole(bill_table(charged))
        print_whole(revenue_table(charged))
    console.print(f"report: {folder}", highlight=False)


def _plan(name: str | None) -> PricePlan | None:
    """The price plan of --bill: the built-in by name, else a YAML file (None: no bill)."""
    if name is None:
        return None
    from suanwang.market import RatingError, builtin_plan, load_plan  # noqa: PLC0415

    if name == "standard":
        return builtin_plan()
    with bad_input_exits(RatingError):
        return load_plan(Path(name))


def _bill(usage: Meter | None, plan: PricePlan | None) -> dict[str, Any] | None:
    if usage is None or plan is None:
        return None
    from suanwang.market import RatingError  # noqa: PLC0415
    from suanwang.twin.billing import bill  # noqa: PLC0415

    with bad_input_exits(RatingError):  # usage the plan does not price
        return bill(usage, plan)


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
    overwrite: OverwriteOption = False,
    output_format: CompareFormatOption = None,
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
    """Run one seeded workload under several profiles and compare them side by side.

    The table shows each profile's SLA %, hot p95 latency, rejections, work carbon and cost;
    --format wide adds the SLA per class, hot p50 and p99, traffic and re-placements.
    """
    from suanwang.scenario import ScenarioError, resolve_scenario  # noqa: PLC0415
    from suanwang.twin import TwinError  # noqa: PLC0415  # keeps --help fast
    from suanwang.twin import compare as twin_compare  # noqa: PLC0415

    fmt = chosen(output_format, json_output)
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
            overwrite=overwrite,
            fmt=fmt,
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
        folder = free_folder(folder, overwrite=overwrite)
        twin_compare.write_comparison(results, folder)
    rows = twin_compare.comparison_rows(results)
    if fmt.is_data:
        data = {"scenario": loaded.name, "seed": seed, "rows": rows, "output": str(folder)}
        print_data(data, fmt)
        err_console.print(f"report: {folder}", highlight=False)
        return
    title = f"{loaded.name} · seed {seed} · {duration:g} s from {start_hour:g} h"
    print_whole(comparison_table(title, rows, wide=fmt is OutputFormat.WIDE))
    console.print(f"report: {folder}", highlight=False)


def _sweep(
    scenario: str,
    profiles: list[str],
    seeds: list[int],
    base: TwinConfig,
    *,
    out: Path | None,
    overwrite: bool,
    fmt: OutputFormat,
    ray_address: str | None,
    workers: int | None,
) -> None:
    from suanwang.scenario import ScenarioError  # noqa: PLC0415
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
        folder = free_folder(folder, overwrite=overwrite)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "sweep.json", {"table": table, "runs": summaries})
    if fmt.is_data:
        print_data({"scenario": name, "table": table, "output": str(folder)}, fmt)
        err_console.print(f"report: {folder}", highlight=False)
        return
    print_whole(sweep_rich_table(f"{name} · seeds {', '.join(map(str, seeds))}", table))
    console.print(f"report: {folder}", highlight=False)
