"""The output folder of a twin run: figures as JSON and CSV, and a few plots.

``write_report(result, folder)`` writes:

* ``summary.json``: every figure of the run (``summarise``);
* ``timeseries.csv``: one row per time bucket, its start ``t_s`` and every column of the series
  (counts and sums within the bucket; ``queued``, ``running``, ``nodes_down`` and ``util_<tier>``
  sampled at its end) plus ``latency_mean_ms``;
* ``types.csv``: one row per task type: outcomes, SLA ratio, latency percentiles and the mean
  network / queueing / compute split;
* ``latency.png``, ``timeseries.png`` and ``energy.png``.

Every file is written to a temporary name first and then renamed, so a folder never holds a
half-written file. Plots use matplotlib's ``Figure`` directly, not ``pyplot``: no display, no
global figure registry to leak memory through, and it works inside worker processes.
"""

from __future__ import annotations

import csv
import json
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
    series_figure = _series_figure(summary, series, result.series.columns)
    return [
        write_json(folder / "summary.json", summary),
        write_csv(folder / "timeseries.csv", columns, series),
        write_csv(folder / "types.csv", TYPE_COLUMNS, type_rows(summary)),
        save_figure(_latency_figure(summary), folder / "latency.png"),
        save_figure(series_figure, folder / "timeseries.png"),
        save_figure(_energy_figure(summary, series), folder / "energy.png"),
    ]


def _title(summary: dict[str, Any]) -> str:
    return f"{summary['scenario']} · {summary['profile']} · seed {summary['seed']}"


def _latency_figure(summary: dict[str, Any]) -> Figure:
    """Per class: p50 / p95 / p99 bars (log scale), and the mean split as stacked shares."""
    classes = summary["classes"]
    names = list(classes)
    figure, axes = new_figure(1, 2, (10, 4))
    percentiles, split = axes[0]
    width = 0.25
    for offset, q in enumerate(("p50", "p95", "p99")):
        values = [classes[c]["latency_ms"][q] for c in names]
        positions = [i + (offset - 1) * width for i in range(len(names))]
        percentiles.bar(positions, values, width, label=q)
    percentiles.set_xticks(range(len(names)), names)
    # Classes differ by orders of magnitude (hot: ms, cold: minutes), so a log axis shows all.
    percentiles.set_yscale("log")
    percentiles.set_ylabel("latency, ms")
    percentiles.set_title("latency percentiles per class")
    percentiles.legend()
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


def _series_figure(
    summary: dict[str, Any], series: list[dict[str, float]], columns: Sequence[str]
) -> Figure:
    """Requests, mean latency, utilisation per tier and the queue, over simulated time."""
    figure, axes = new_figure(4, 1, (10, 9), sharex=True)
    times = [row["t_s"] for row in series]
    panels: list[tuple[str, tuple[str, ...]]] = [
        ("tasks per bucket", ("arrivals", "completed", "rejected")),
        ("mean latency, ms", ("latency_mean_ms",)),
        ("reserved CPU share", tuple(c for c in columns if c.startswith("util_"))),
        ("tasks waiting / running", ("queued", "running")),
    ]
    for (ylabel, names), (ax,) in zip(panels, axes, strict=True):
        for name in names:
            ax.plot(times, [row[name] for row in series], label=name.removeprefix("util_"))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if len(names) > 1:
            ax.legend(loc="upper right", fontsize="small", ncols=min(len(names), 5))
    axes[-1][0].set_xlabel("simulated time, s")
    figure.suptitle(_title(summary))
    return figure


def _energy_figure(summary: dict[str, Any], series: list[dict[str, float]]) -> Figure:
    """Energy and carbon of task runs per bucket (the fleet's idle draw is in the totals only)."""
    figure, axes = new_figure(2, 1, (10, 5), sharex=True)
    times = [row["t_s"] for row in series]
    width = times[1] - times[0] if len(times) > 1 else 1.0
    for (ax,), column, ylabel in (
        (axes[0], "energy_kwh", "energy of task runs, kWh"),
        (axes[1], "carbon_kg", "carbon, kg CO2e"),
    ):
        ax.bar(times, [row[column] for row in series], width, align="edge")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[1][0].set_xlabel("simulated time, s")
    figure.suptitle(
        f"{_title(summary)} — totals with idle draw: {summary['energy_kwh']:,.3g} kWh, "
        f"{summary['carbon_kg']:,.3g} kg"
    )
    return figure
