"""What ``suanwang demo`` makes of its finished tasks: per-class figures, a table, a report folder.

Latency here is measured, not simulated: from the task's acceptance by the control plane to its
agent's completion report, on this machine over loopback (the scenario's link latencies are not
added). A task meets its SLA when it completed within its latency budget (hot), its deadline
(warm), or at all (cold).
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.table import Table

from suanwang.cli.output import keep_whole

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CLASSES = ("hot", "warm", "cold")
_RAN_ON = re.compile(r"completed on (\S+) ")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One task as the demo saw it end."""

    task_id: str
    task_class: str
    kind: str
    state: str
    placed_on: str
    ran_on: str
    latency_ms: float
    sla_met: bool
    replaced: bool


def outcome_of(doc: dict[str, Any]) -> Outcome:
    """An ``Outcome`` from a task document of the API."""
    spec, history = doc["spec"], doc["history"]
    ended_s = history[-1]["at_s"]
    latency_ms = (ended_s - doc["submitted_at_s"]) * 1000.0
    match = _RAN_ON.match(doc["reason"])
    completed = doc["state"] == "completed"
    if spec["latency_budget_ms"] is not None:
        sla_met = completed and latency_ms <= spec["latency_budget_ms"]
    elif spec["deadline_s"] is not None:
        sla_met = completed and latency_ms <= spec["deadline_s"] * 1000.0
    else:
        sla_met = completed
    return Outcome(
        task_id=doc["id"],
        task_class=spec["task_class"],
        kind=spec["task_type"] or "",
        state=doc["state"],
        placed_on=(doc["placement"] or {}).get("node_id", ""),
        ran_on=match.group(1) if match else "",
        latency_ms=latency_ms,
        sla_met=sla_met,
        replaced=any(" down: " in step["reason"] for step in history),
    )


def class_rows(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """Per class (and all): tasks, completed, SLA %, p50/p95 latency, where the work ran."""
    rows = []
    for name in (*CLASSES, "all"):
        chosen = [o for o in outcomes if name in ("all", o.task_class)]
        if not chosen:
            continue
        done = [o.latency_ms for o in chosen if o.state == "completed"]
        p50, p95 = np.percentile(done, [50, 95]).tolist() if done else [float("nan")] * 2
        where = Counter(o.ran_on or "-" for o in chosen)
        rows.append(
            {
                "class": name,
                "tasks": len(chosen),
                "completed": len(done),
                "sla_pct": 100.0 * sum(o.sla_met for o in chosen) / len(chosen),
                "p50_ms": p50,
                "p95_ms": p95,
                "replaced": sum(o.replaced for o in chosen),
                "ran_on": dict(sorted(where.items())),
            }
        )
    return rows


def summary_table(rows: list[dict[str, Any]]) -> Table:
    """The per-class table the demo prints."""
    table = Table(title="workload through the API, run by the agents")
    for column in ("class", "tasks", "done", "SLA %", "p50 ms", "p95 ms", "re-placed", "ran on"):
        table.add_column(column, justify="left" if column in ("class", "ran on") else "right")
    for row in rows:
        where = ", ".join(f"{node} {count}" for node, count in row["ran_on"].items())
        table.add_row(
            row["class"],
            str(row["tasks"]),
            str(row["completed"]),
            f"{row['sla_pct']:.1f}",
            f"{row['p50_ms']:.0f}",
            f"{row['p95_ms']:.0f}",
            str(row["replaced"]),
            where,
        )
    return keep_whole(table)


def write_report(
    folder: Path, outcomes: list[Outcome], rows: list[dict[str, Any]], healing: dict[str, Any]
) -> list[Path]:
    """Write ``summary.json``, ``tasks.csv``, ``latency.png`` and ``placement.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    summary = folder / "summary.json"
    summary.write_text(json.dumps({"classes": rows, "healing": healing}, indent=2) + "\n")
    tasks = folder / "tasks.csv"
    with tasks.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(Outcome.__dataclass_fields__))
        writer.writeheader()
        for outcome in outcomes:
            writer.writerow(asdict(outcome))
    latency, placement = folder / "latency.png", folder / "placement.png"
    _latency_plot(outcomes).savefig(latency, dpi=110)
    _placement_plot(outcomes).savefig(placement, dpi=110)
    return [summary, tasks, latency, placement]


def _latency_plot(outcomes: list[Outcome]) -> Figure:
    from matplotlib.figure import Figure  # noqa: PLC0415 (slow import, only when writing)

    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.add_subplot()
    names = [c for c in CLASSES if any(o.task_class == c for o in outcomes)]
    data = [[o.latency_ms for o in outcomes if o.task_class == c] for c in names]
    axes.boxplot(data, tick_labels=names)
    axes.set_ylabel("acceptance -> completion, ms")
    axes.set_title("measured latency per class")
    return figure


def _placement_plot(outcomes: list[Outcome]) -> Figure:
    from matplotlib.figure import Figure  # noqa: PLC0415

    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.add_subplot()
    nodes = sorted({o.ran_on or "-" for o in outcomes})
    bottom = np.zeros(len(nodes))
    for name in CLASSES:
        counts = np.array(
            [
                sum(1 for o in outcomes if o.task_class == name and (o.ran_on or "-") == n)
                for n in nodes
            ],
            dtype=float,
        )
        axes.bar(nodes, counts, bottom=bottom, label=name)
        bottom += counts
    axes.set_ylabel("tasks")
    axes.set_title("where the work ran")
    axes.legend()
    return figure
