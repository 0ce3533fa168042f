"""Tables of ``suanwang task explain``: why here (points per plugin, runners-up), why not.

Built from the explain route's JSON document (``api.explanations.ExplanationOut``), so that the
CLI reads what any other client reads; ``--json`` prints that document as it came.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text


def explanation_view(e: dict[str, Any]) -> RenderableType:
    """Everything a person reads of one explanation, as one renderable."""
    parts: list[RenderableType] = [Text(_headline(e)), Text(e["summary"], style="dim")]
    if e.get("why_not"):
        v = e["why_not"]
        verdict = f"{v['plugin']}: {v['reason']}" if v["plugin"] else v["reason"]
        parts.append(Text(f"why not {v['node_id']}: {verdict}"))
    here = e.get("why_here")
    if here:
        parts += [_points_table(here), _alternatives_table(here)]
    if e.get("refusals"):
        parts.append(_refusals_table(e["refusals"]))
    return Group(*parts)


def _headline(e: dict[str, Any]) -> str:
    if not e["placeable"]:
        return f"refused: {e['refusal'] or e['summary']}"
    head = f"would go to {e['node_id']}"
    placed = e.get("placed_on")
    if placed and placed != e["node_id"]:
        head += f" (placed on {placed}; its own hold left out)"
    elif placed:
        head += " (where it is placed; its own hold left out)"
    return head


def _points_table(here: dict[str, Any]) -> Table:
    chosen = here["chosen"]
    title = (
        f"why here: {chosen['node_id']} scores {chosen['score']:.1f} of "
        f"{here['score_max']:g} among {here['candidates']} candidates"
    )
    if here["kept"]:
        title += " (kept by session affinity or hysteresis)"
    table = Table("plugin", "raw", "points", "weight", "weighted", title=title, box=box.SIMPLE_HEAD)
    for part in chosen["scores"]:
        table.add_row(
            part["plugin"],
            f"{part['raw']:.4g}",
            f"{part['scaled']:.1f}",
            f"{part['weight']:g}",
            f"{part['weighted']:.1f}",
        )
    table.add_row("total", "", "", "", f"{chosen['score']:.1f}", style="bold")
    return table


def _alternatives_table(here: dict[str, Any]) -> Table:
    table = Table(
        "node",
        "score",
        "network ms",
        "queueing ms",
        "compute ms",
        "cost",
        title="chosen and runners-up",
        box=box.SIMPLE_HEAD,
    )
    for rank, candidate in enumerate([here["chosen"], *here["alternatives"]]):
        est = candidate["estimate"]
        table.add_row(
            candidate["node_id"] + (" (chosen)" if rank == 0 else ""),
            f"{candidate['score']:.1f}",
            f"{est['network_ms']:.2f}",
            f"{est['queueing_ms']:.2f}",
            f"{est['compute_ms']:.2f}",
            f"{est['cost']:.4g}",
        )
    return table


def _refusals_table(groups: list[dict[str, Any]]) -> Table:
    table = Table(
        "plugin",
        "short of",
        "nodes",
        "closest",
        "short by",
        "reason",
        title="turned away (closest first)",
        box=box.SIMPLE_HEAD,
    )
    for group in groups:
        label = (group["plugin"], group["kind"] or "-", str(group["count"]))
        if not group["closest"]:
            table.add_row(*label, "", "", "")
        for near in group["closest"]:
            table.add_row(*label, near["node_id"], _short_by(near), near["reason"])
            label = ("", "", "")  # the group's label on its first row only
    return table


def _short_by(near: dict[str, Any]) -> str:
    if near.get("never"):
        return "never"  # no load change would make the node pass
    if near["short_by"] is None:
        return "-"  # the plugin does not measure misses
    unit = f" {near['unit']}" if near["unit"] else ""
    return f"{near['short_by']:.3g}{unit}"
