"""The output folder of a twin run: figures as JSON and CSV, and a few plots.

``write_report(result, folder)`` writes:

* ``summary.json``: every figure of the run (``summarise``);
* ``timeseries.csv``: one row per time bucket, its start ``t_s`` and every column of the series
  (counts and sums within the bucket; ``queued``, ``running``, ``nodes_down`` and ``util_<tier>``
  sampled at its end) plus ``latency_mean_ms``;
* ``types.csv``: one row per task type: outcomes, SLA ratio, latency percentiles and the mean
  network / queueing / compute split;
* ``latency.png``, ``timeseries.png`` and ``energy.png`` (built by ``latency_figure``,
  ``series_figure`` and ``energy_figure``).

Log axes carry plain tick labels (1, 10, 100, not 10^2); latency panels draw each class's SLA
budget and SLA panels the ``SLA_TARGET`` share; utilisation is the share of the resource each
tier's work holds most of (accelerator devices for GPU-bound work, else CPU cores); energy and
carbon show what the work itself causes next to the fleet's total with its idle draw.

Every file is written to a temporary name first and then renamed, so a folder never holds a
half-written file. Plots use matplotlib's ``Figure`` directly, not ``pyplot``: no display, no
global figure registry to leak memory through, and it works inside worker processes.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from suanwang.twin.run import TwinResult
from suanwang.twin.summary import summarise

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TYPE_COLUMNS = (
    "task_type",
    "generated",
    "completed",
    "sla_met",
    "sla_ratio",
    "rejected",
    "failed",
    "cancelled",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "network_mean_ms",
    "queueing_mean_ms",
    "compute_mean_ms",
)
"""Columns of ``types.csv``."""

SLA_TARGET = 0.95
"""The share of requests within budget that SLA panels draw as a reference line."""

_SPLIT = (("network_ms", "network"), ("queueing_ms", "queueing"), ("compute_ms", "compute"))


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` only if the block succeeds."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: Path, write: Callable[[TextIO], None]) -> Path:
    """Write a text file atomically through ``write(handle)``; return ``path``."""
    with _atomic(path) as temporary, temporary.open("w", newline="", encoding="utf-8") as handle:
        write(handle)
    return path


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    return write_text(path, lambda handle: json.dump(data, handle, indent=2))


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> Path:
    """Write ``rows`` under a header of ``columns`` (the csv module quotes what needs it)."""

    def write(handle: TextIO) -> None:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)

    return write_text(path, write)


def save_figure(figure: Figure, path: Path) -> Path:
    """Save ``figure`` as PNG, atomically."""
    with _atomic(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    return path


def new_figure(
    rows: int, columns: int, size: tuple[float, float], *, sharex: bool = False
) -> tuple[Figure, Any]:
    """A figure with a grid of axes, not registered with pyplot (freed with the object)."""
    from matplotlib.figure import Figure  # noqa: PLC0415  # matplotlib is slow to import

    figure = Figure(figsize=size, layout="constrained")
    return figure, figure.subplots(rows, columns, squeeze=False, sharex=sharex)


def type_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of ``types.csv`` from a run's summary."""
    rows = []
    for name, stats in summary["types"].items():
        row: dict[str, Any] = {"task_type": name}
        row.update({key: stats[key] for key in TYPE_COLUMNS[1:8]})
        latency = stats["latency_ms"]
        row.update({f"latency_{q}_ms": latency[q] for q in ("mean", "p50", "p95", "p99")})
        row.update({f"{label}_mean_ms": stats[key]["mean"] for key, label in _SPLIT})
        rows.append(row)
    return rows


def write_report(result: TwinResult, folder: Path) -> list[Path]:
    """Write a run's output folder (see the module docstring); return the files written.

    Args:
        result: The run.
        folder: Created if missing; files of the same names are replaced.
    """
    folder.mkdir(parents=True, exist_ok=True)
    summary = summarise(result)
    series = result.series.rows()
    columns = ("t_s", *result.series.columns, "latency_mean_ms")
    return [
        write_json(folder / "summary.json", summary),
        write_csv(folder / "timeseries.csv", columns, series),
        write_csv(folder / "types.csv", TYPE_COLUMNS, type_rows(summary)),
        save_figure(latency_figure(summary), folder / "latency.png"),
        save_figure(series_figure(summary, series), folder / "timeseries.png"),
        save_figure(energy_figure(summary, series), folder / "energy.png"),
    ]


def _title(summary: dict[str, Any]) -> str:
    return f"{summary['scenario']} · {summary['profile']} · seed {summary['seed']}"


def plain_number(value: float, _position: object = None) -> str:
    """A tick label without an exponent: 0.01, 1, 1,000, 100,000."""
    if value == 0:
        return "0"
    if abs(value) < 1:
        return f"{value:.{max(0, -math.floor(math.log10(abs(value))))}f}"
    return f"{value:,.0f}"


def plain_log_axis(ax: Any) -> None:
    """Make ``ax``'s y axis logarithmic with plain major tick labels and no minor labels."""
    from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: PLC0415

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(plain_number))
    ax.yaxis.set_minor_formatter(NullFormatter())


def latency_figure(summary: dict[str, Any]) -> Figure:
    """Per class: p50 / p95 / p99 bars (log scale) with the class's SLA budget, and the split."""
    classes = summary["classes"]
    names = list(classes)
    figure, axes = new_figure(1, 2, (10, 4))
    percentiles, split = axes[0]
    width = 0.25
    for offset, q in enumerate(("p50", "p95", "p99")):
        values = [classes[c]["latency_ms"][q] for c in names]
        positions = [i + (offset - 1) * width for i in range(len(names))]
        percentiles.bar(positions, values, width, label=q)
    labelled = False
    for i, name in enumerate(names):
        # The tightest budget of the class: the one its percentiles must stay under.
        budget = classes[name].get("budget_ms", {}).get("min")
        if budget:
            percentiles.hlines(
                budget,
                i - 1.6 * width,
                i + 1.6 * width,
                colors="tab:red",
                linestyles="--",
                label=None if labelled else "SLA budget",
            )
            labelled = True
    percentiles.set_xticks(range(len(names)), names)
    # Classes differ by orders of magnitude (hot: ms, cold: minutes), so a log axis shows all.
    plain_log_axis(percentiles)
    percentiles.set_ylabel("latency, ms")
    percentiles.set_title("latency percentiles per class")
    percentiles.legend(fontsize="small")
    bottoms = [0.0] * len(names)
    means = [classes[c]["latency_ms"]["mean"] for c in names]
    for key, label in _SPLIT:
        # Shares of the mean, not ms: a stacked bar in ms would hide the hot class entirely.
        shares = [
            100 * classes[c][key]["mean"] / mean if mean else 0.0
            for c, mean in zip(names, means, strict=True)
        ]
        split.bar(range(len(names)), shares, 0.6, bottom=bottoms, label=label)
        bottoms = [b + s for b, s in zip(bottoms, shares, strict=True)]
    for i, mean in enumerate(means):
        split.annotate(f"{mean:,.3g} ms", (i, min(bottoms[i], 100)), ha="center", va="bottom")
    split.set_xticks(range(len(names)), names)
    split.set_ylim(0, 115)
    split.set_ylabel("share of mean latency, %")
    split.set_title("mean latency: network / queueing / compute")
    split.legend(loc="lower right")
    figure.suptitle(_title(summary))
    return figure


def held_resource(summary: dict[str, Any]) -> dict[str, str]:
    """Per tier, the resource its work held most of over the run: ``accel`` or ``util`` (CPU)."""
    return {
        tier: "accel" if shares["accelerator"] > shares["cpu"] else "util"
        for tier, shares in summary["utilisation"].items()
    }


def series_figure(summary: dict[str, Any], series: list[dict[str, float]]) -> Figure:
    """Requests, SLA share, mean latency, reserved share per tier and the queue, over time.

    The utilisation panel plots per tier the share of the resource its work held most of
    (``held_resource``) in percent, on an axis of at least 0-5 %, so that a GPU-bound tier is
    not drawn as a sliver of CPU.
    """
    figure, axes = new_figure(5, 1, (10, 11), sharex=True)
    times = [row["t_s"] for row in series]
    arrivals, sla, latency, util, queue = (row[0] for row in axes)
    for name in ("arrivals", "completed", "rejected"):
        arrivals.plot(times, [row[name] for row in series], label=name)
    arrivals.set_ylabel("tasks per bucket")
    shares = [
        100 * row["sla_met"] / row["completed"] if row["completed"] else None for row in series
    ]
    sla.plot(times, [float("nan") if v is None else v for v in shares], label="SLA met")
    sla.axhline(100 * SLA_TARGET, color="tab:red", linestyle="--", label="SLA target")
    sla.set_ylim(0, 105)
    sla.set_ylabel("SLA met, % of completed")
    means = [row["latency_mean_ms"] for row in series]
    latency.plot(times, [v if v > 0 else math.nan for v in means], label="mean latency")
    budgets = sorted(
        {b for c in summary["classes"].values() if (b := c.get("budget_ms", {}).get("min"))}
    )
    for i, budget in enumerate(budgets):
        latency.axhline(
            budget, color="tab:red", linestyle="--", label="SLA budgets" if i == 0 else None
        )
    shown = [v for v in means if v > 0] + budgets
    if shown:  # a log axis needs positive values; an empty run keeps the linear one
        plain_log_axis(latency)
        latency.set_ylim(min(shown) / 2, max(shown) * 2)
    latency.set_ylabel("mean latency, ms")
    resource = held_resource(summary)
    top = 5.0
    for tier, kind in resource.items():
        values = [100 * row.get(f"{kind}_{tier}", 0.0) for row in series]
        suffix = "accelerators" if kind == "accel" else "CPU"
        util.plot(times, values, label=f"{tier} ({suffix})")
        top = max(top, *values) if values else top
    util.set_ylim(0, min(100.0, top * 1.1) if top < 100 else 105)
    kinds = set(resource.values())
    util.set_ylabel(
        "reserved accelerator share, %"
        if kinds == {"accel"}
        else "reserved CPU share, %"
        if kinds == {"util"}
        else "reserved share, %"
    )
    for name in ("queued", "running"):
        queue.plot(times, [row[name] for row in series], label=name)
    queue.set_ylabel("tasks waiting / running")
    for ax in (arrivals, sla, latency, util, queue):
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize="small", ncols=5)
    queue.set_xlabel("simulated time, s")
    figure.suptitle(_title(summary))
    return figure


def energy_figure(summary: dict[str, Any], series: list[dict[str, float]]) -> Figure:
    """Energy per bucket (the work's over the idle draw), and the work's carbon with the total.

    The idle draw of a large fleet dwarfs what placements change, so the carbon panel's bars are
    the work-only carbon and the fleet's total (idle draw included) is a line on its own axis.
    """
    figure, axes = new_figure(2, 1, (10, 6), sharex=True)
    (energy,), (carbon,) = axes
    times = [row["t_s"] for row in series]
    width = times[1] - times[0] if len(times) > 1 else 1.0
    work = [row["work_energy_kwh"] for row in series]
    idle = [max(row["energy_kwh"] - w, 0.0) for row, w in zip(series, work, strict=True)]
    energy.bar(times, idle, width, align="edge", color="tab:gray", label="idle draw")
    energy.bar(times, work, width, bottom=idle, align="edge", color="tab:orange", label="work")
    energy.set_ylabel("energy, kWh")
    energy.legend(loc="upper right", fontsize="small")
    carbon.bar(
        times,
        [row["work_carbon_kg"] for row in series],
        width,
        align="edge",
        color="tab:green",
        label="carbon of the work",
    )
    carbon.set_ylabel("carbon of the work, kg CO2e")
    total = carbon.twinx()
    total.plot(
        [t + width / 2 for t in times],
        [row["carbon_kg"] for row in series],
        color="black",
        label="total with idle draw",
    )
    total.set_ylim(bottom=0)
    total.set_ylabel("total carbon, kg CO2e")
    lines = carbon.get_legend_handles_labels()
    more = total.get_legend_handles_labels()
    carbon.legend(lines[0] + more[0], lines[1] + more[1], loc="upper right", fontsize="small")
    for ax in (energy, carbon):
        ax.grid(alpha=0.3)
    carbon.set_xlabel("simulated time, s")
    figure.suptitle(
        f"{_title(summary)} — work: {summary['work_energy_kwh']:,.3g} kWh, "
        f"{summary['work_carbon_kg']:,.3g} kg; with idle draw: {summary['energy_kwh']:,.3g} kWh, "
        f"{summary['carbon_kg']:,.3g} kg"
    )
    return figure
