"""Tables of ``site``, ``link``, ``audit``, ``principal`` and ``scenario load``.

Ids and numbers are whole columns; at 80 columns the important ones fit and the rest (a site's
coordinates, PUE and carbon intensity; a link's loss; an agent's nodes) go to ``-o wide``.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from suanwang.cli.output import Kind, iso_time, summed, whole_table


def site_table(sites: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per site: id, tier, nodes, region; ``wide`` adds PUE, carbon and position.

    A totals row sums the nodes.
    """
    columns: list[tuple[str, Kind]] = [("id", "id"), ("tier", "id"), ("nodes", "number")]
    if wide:
        columns += [("PUE", "number"), ("g CO2/kWh", "number"), ("lat", "number")]
        columns += [("lon", "number")]
    columns.append(("region", "text"))
    rows = []
    for s in sites:
        row = [s["id"], s["tier"], f"{s['nodes']:,}"]
        if wide:
            row += [f"{s['pue']:g}", f"{s['carbon_g_per_kwh']:g}"]
            row += ["" if s[k] is None else f"{s[k]:.4f}" for k in ("lat_deg", "lon_deg")]
        row.append(s["region"])
        rows.append(row)
    totals = ["total", "", summed([s["nodes"] for s in sites]), *([""] * (len(columns) - 3))]
    return whole_table(columns, rows, totals=totals)


def link_table(links: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per link: id, ends, state, bandwidth, latency; ``wide`` adds the loss ratio."""
    columns: list[tuple[str, Kind]] = [("id", "id"), ("a", "id"), ("b", "id"), ("state", "id")]
    columns += [("Mbps", "number"), ("ms", "number")]
    if wide:
        columns.append(("loss", "number"))
    rows = []
    for link in links:
        row = [link["id"], link["a"], link["b"], link["state"]]
        row += [f"{link['bandwidth_mbps']:,.0f}", f"{link['latency_ms']:g}"]
        if wide:
            row.append(f"{link['loss_ratio']:g}")
        rows.append(row)
    return whole_table(columns, rows)


def audit_table(entries: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per entry: seq, time, who, action, target; ``detail`` wraps."""
    columns: list[tuple[str, Kind]] = [("seq", "number"), ("at", "number"), ("who", "id")]
    columns += [("action", "id"), ("target", "text"), ("detail", "text")]
    rows = [
        [f"{e['seq']}", iso_time(e["at_s"]), e["who"], e["action"], e["target"], e["detail"]]
        for e in entries
    ]
    return whole_table(columns, rows)


def principal_table(principals: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per principal: id, tenant, roles; ``wide`` adds an agent's nodes and key."""
    columns: list[tuple[str, Kind]] = [("id", "id"), ("tenant", "id"), ("roles", "text")]
    if wide:
        columns += [("agent key", "id"), ("nodes", "text")]
    rows = []
    for p in principals:
        row = [p["id"], p["tenant"], ", ".join(p["roles"])]
        if wide:
            row += [p["agent_key_id"] or "", ", ".join(p["node_ids"])]
        rows.append(row)
    return whole_table(columns, rows)


def load_table(loaded: dict[str, Any], wide: bool = False) -> Table:
    """The scenario now live, its node count and the tasks cancelled on the old topology."""
    columns: list[tuple[str, Kind]] = [("live", "id"), ("nodes", "number")]
    columns.append(("cancelled tasks", "number"))
    row = [loaded["live"], f"{loaded['nodes']:,}", f"{loaded['cancelled_tasks']:,}"]
    return whole_table(columns, [row])
