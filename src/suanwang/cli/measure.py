"""``suanwang measure``: measure this machine and show its L0 metrics and L1/L2 scores."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from suanwang.cli.common import console, progress_bar
from suanwang.cli.output import keep_whole, print_whole

if TYPE_CHECKING:
    from suanwang.measure.probes import MachineMeasurement


def measure(
    runs: int = typer.Option(5, "--runs", min=1, max=100, help="Repeated runs, spread shown."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    quick: bool = typer.Option(False, "--quick", help="Small probes: fast, less precise."),
    gpu: bool = typer.Option(True, "--gpu/--no-gpu", help="Measure a GPU via torch if present."),
) -> None:
    """Measure this machine: CPU GFLOPS, memory bandwidth, cores, memory, disk, GPU if present."""
    # Imported here: numpy and scipy are slow to import and only this command needs them.
    from suanwang.measure.probes import PROBE_STEPS, ProbeSettings, measure_machine  # noqa: PLC0415

    # the probe sizes of --quick: a few seconds in all
    quick_settings = ProbeSettings(matrix_size=256, repeats=3, copy_mib=16)
    base = quick_settings if quick else ProbeSettings()
    settings = dataclasses.replace(base, gpu=gpu)
    with progress_bar() as progress:
        task = progress.add_task("measuring", total=runs * len(PROBE_STEPS))

        def step(name: str) -> None:
            progress.update(task, advance=1, description=f"measuring: {name}")

        result = measure_machine(runs, settings, on_step=step)
    if json_output:
        text = json.dumps(result.to_dict(), indent=2)
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        print_whole(_table(result))


def _table(result: MachineMeasurement) -> Table:
    from suanwang.measure import metric_spec, score_band  # noqa: PLC0415 (fast --help)

    table = Table(title=f"This machine, {result.runs} runs", title_justify="left")
    table.add_column("metric")
    table.add_column("level")
    table.add_column("unit")
    for column in ("value", "min", "max", "spread"):
        table.add_column(column, justify="right")
    for name, values in result.samples.items():
        mean = sum(values) / len(values)
        spread = f"{100 * result.spread_ratio(name):.1f} %"
        low, high = f"{min(values):,.1f}", f"{max(values):,.1f}"
        table.add_row(name, "L0", metric_spec(name).unit, f"{mean:,.1f}", low, high, spread)
    if result.gpu is None:
        table.add_row("gpu", "L0", "", "absent", "", "", "")
    for category, score in result.l1.items():
        if not math.isnan(score):  # NaN: a category local probes do not measure
            table.add_row(category, "L1", "score", f"{score:.2f} ({score_band(score)})", "", "", "")
    l2 = result.l2_per_run
    value = f"{result.l2:.2f} ({score_band(result.l2)})"
    low, high = f"{min(l2):.2f}", f"{max(l2):.2f}"
    table.add_row("score", "L2", "score", value, low, high, f"{result.l2_spread:.3f}")
    return keep_whole(table)
