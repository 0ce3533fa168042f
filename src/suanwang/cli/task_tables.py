"""The tables of ``task`` and ``node``: whole ids and numbers, the rest for ``-o wide``.

At 80 columns a whole task id (32 characters) leaves room for its state and a wrapped reason
(which names the node a placed task went to); the tenant, the submission time, the type and the
node go to ``-o wide``.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from suanwang.cli.output import Kind, iso_time, summed, whole_table


def _node_of(task: dict[str, Any]) -> str:
    return str((task.get("placement") or {}).get("node_id", ""))


def task_table(tasks: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per task: id, state, reason; ``wide`` adds tenant, submitted, type and node."""
    columns: list[tuple[str, Kind]] = [("id", "id")]
    if wide:
        columns += [("tenant", "id"), ("submitted", "number")]
    columns += [("state", "id")]
    if wide:
        columns += [("type", "id"), ("node", "id")]
    columns += [("reason", "text")]
    rows = []
    for t in tasks:
        row = [t["id"]]
        if wide:
            row += [t["tenant"], iso_time(t.get("submitted_at_s"))]
        row += [t["state"]]
        if wide:
            row += [t["spec"]["task_type"] or "", _node_of(t)]
        row += [t["reason"]]
        rows.append(row)
    return whole_table(columns, rows)


def task_line(t: dict[str, Any]) -> str:
    """``ID [TENANT] STATE on NODE``: the title of ``task get``."""
    return f"{t['id']} [{t['tenant']}] {t['state']} on {_node_of(t) or '-'}"


def history_table(t: dict[str, Any], wide: bool = False) -> Table:
    """A task's transitions with ISO times (UTC, milliseconds)."""
    columns: list[tuple[str, Kind]] = [("at", "number"), ("from", "id"), ("to", "id")]
    columns.append(("reason", "text"))
    rows = [
        [
            iso_time(step["at_s"], milliseconds=True),
            step["from_state"] or "",
            step["to_state"],
            step["reason"],
        ]
        for step in t["history"]
    ]
    return whole_table(columns, rows, title=task_line(t), title_justify="left")


def node_table(nodes: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per node: id, state, cores, memory, accelerators; ``wide`` adds more.

    Wide adds the site, the attestation and the claimed against the measured fp64 rate
    (GFLOP/s). A totals row sums the cores, the memory and the accelerator devices.
    """
    columns: list[tuple[str, Kind]] = [("id", "id")]
    if wide:
        columns.append(("site", "id"))
    columns += [("state", "id"), ("cores", "number"), ("mem GiB", "number")]
    columns.append(("accelerators", "text"))
    if wide:
        columns += [("attestation", "id"), ("claimed GFLOP/s", "number")]
        columns.append(("measured GFLOP/s", "number"))
    rows = []
    for n in nodes:
        devices = ", ".join(f"{a['count']}x {a['model']}" for a in n["accelerators"])
        row = [n["id"], *([n["site_id"]] if wide else [])]
        row += [n["state"], str(n["cpu_cores"]), f"{n['mem_gib']:g}", devices]
        if wide:
            measured = n.get("measured_gflops")
            row += [n.get("attestation", ""), f"{n.get('claimed_gflops', 0.0):g}"]
            row.append("-" if measured is None else f"{measured:.2f}")
        rows.append(row)
    device_count = sum(a["count"] for n in nodes for a in n["accelerators"])
    totals = ["total", *([""] if wide else []), ""]
    totals += [summed([n["cpu_cores"] for n in nodes])]
    totals += [summed([n["mem_gib"] for n in nodes], ",g"), f"{device_count:,} devices"]
    totals += ["", "", ""] if wide else []
    return whole_table(columns, rows, totals=totals)


def change_table(change: dict[str, Any], wide: bool = False) -> Table:
    """A node's new state and how many of its tasks were moved."""
    columns: list[tuple[str, Kind]] = [("node", "id"), ("state", "id"), ("tasks moved", "number")]
    return whole_table(columns, [[change["id"], change["state"], str(change["replaced_tasks"])]])
