"""The demo tenant's own code: summarise a workload's ``tasks.csv``, as a tenant would.

Shipped as source, not imported by suanwang: ``suanwang demo`` zips this file as the package
``tasksummary`` at demo time, pushes it as an artefact and runs it on an agent with the demo's
own ``tasks.csv`` as its input; the agent calls ``summarise(inputs, outputs)`` in its sandbox.
It uses the standard library only.
"""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path


def summarise(inputs: Path, outputs: Path) -> None:
    """Per node and class, the tasks completed and their median latency, to ``summary.json``."""
    rows: list[dict[str, str]] = []
    for path in sorted(inputs.iterdir()):
        with path.open(newline="") as handle:
            rows += list(csv.DictReader(handle))
    by_node: dict[str, list[float]] = {}
    by_class: dict[str, list[float]] = {}
    for row in rows:
        if row["state"] == "completed":
            latency_ms = float(row["latency_ms"])
            by_node.setdefault(row["ran_on"], []).append(latency_ms)
            by_class.setdefault(row["task_class"], []).append(latency_ms)
    summary = {
        "tasks": len(rows),
        "completed": sum(len(v) for v in by_node.values()),
        "by_node": {node: len(v) for node, v in sorted(by_node.items())},
        "median_latency_ms_by_class": {
            name: round(statistics.median(v), 1) for name, v in sorted(by_class.items())
        },
    }
    (outputs / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    print(f"summarised {len(rows)} tasks")
