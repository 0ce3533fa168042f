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

from suanwang.cli.output import keep_whole


def explanation_view(e: dict[str, Any], wide: bool = False) -> RenderableType:
    """Everything a person reads of one explanation, as one renderable.

    Node ids and figures are never cut; at 80 columns the queueing time, the cost and the kind
    of a shortfall are left for ``wide``.
    """
    parts: list[RenderableType] = [Text(_headline(e)), Text(e["summary"], style="dim")]
    if e.get("why_not"):
        v = e["why_not"]
        verdict = f"{v['plugin']}: {v['reason']}" if v["plugin"] else v["reason"]
        parts.append(Text(f"why not {v['node_id']}: {verdict}"))
    here = e.get("why_here")
    if here:
        parts += [_points_table(here), _alternatives_table(here, wide)]
    if e.get("refusals"):
        parts.append(_refusals_table(e["refusals"], wide))
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
    return keep_whole(table)


def _alternatives_table(here: dict[str, Any], wide: bool) -> Table:
    headers = ["node", "score", "network ms", "queueing ms", "compute ms", "cost"]
    if not wide:
        headers = [h for h in headers if h not in {"queueing ms", "cost"}]
    table = Table(*headers, title="chosen and runners-up", box=box.SIMPLE_HEAD)
    for rank, candidate in enumerate([here["chosen"], *here["alternatives"]]):
        est = candidate["estimate"]
        cells = {
            "node": candidate["node_id"] + (" (chosen)" if rank == 0 else ""),
            "score": f"{candidate['score']:.1f}",
            "network ms": f"{est['network_ms']:.2f}",
            "queueing ms": f"{est['queueing_ms']:.2f}",
            "compute ms": f"{est['compute_ms']:.2f}",
            "cost": f"{est['cost']:.4g}",
        }
        table.add_row(*(cells[h] for h in headers))
    return keep_whole(table)


def _refusals_table(groups: list[dict[str, Any]], wide: bool) -> Table:
    headers = ["plugin", "short of", "nodes", "closest", "short by", "reason"]
    if not wide:
        headers.remove("short of")  # the unit of "short by" says it
    table = Table(*headers, title="turned away (closest first)", box=box.SIMPLE_HEAD)
    for group in groups:
        label = {"plugin": group["plugin"], "short of": group["kind"] or "-"}
        label["nodes"] = str(group["count"])
        if not group["closest"]:
            table.add_row(*(label.get(h, "") for h in headers))
        for near in group["closest"]:
            cells = {**label, "closest": near["node_id"], "short by": _short_by(near)}
            cells["reason"] = near["reason"]
            table.add_row(*(cells.get(h, "") for h in headers))
            label = {}  # the group's label on its first row only
    return keep_whole(table, text=("reason",))


def _short_by(near: dict[str, Any]) -> str:
    if near.get("never"):
        return "never"  # no load change would make the node pass
    if near["short_by"] is None:
        return "-"  # the plugin does not measure misses
    unit = f" {near['unit']}" if near["unit"] else ""
    return f"{near['short_by']:.3g}{unit}"
