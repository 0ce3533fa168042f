"""The tables of ``suanwang intent``: a plan (dry run or applied), the listing, one intent.

Every table fits 80 columns: ids and numbers are whole, the rules, messages and reasons wrap
(``cli.output``). ``-o wide`` adds the tenant and the time to the listing.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from suanwang.cli.output import Kind, iso_time, whole_table

VALUE_CHARS = 13
"""Width of a derived figure's value (a list of sites wraps there)."""


def derivation_table(derivations: list[dict[str, Any]]) -> Table:
    """Each derived figure with its value and the rule that made it."""
    rows = [[d["field"], d["value"], d["rule"]] for d in derivations]
    table = whole_table(
        [("derived", "id"), ("value", "text"), ("rule", "text")], rows, title="translation"
    )
    value = table.columns[1]  # short figures, a list of sites at most: the rules get the room
    value.min_width, value.max_width = VALUE_CHARS, VALUE_CHARS
    return table


def _figure(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def figures_table(plan: dict[str, Any]) -> Table:
    """What the live network offers (the check) and what the fork predicts."""
    check, predicted = plan["check"], plan["prediction"]
    rows = [
        ["replicas", f"{plan['replicas']:,}"],
        ["room in the coverage area", f"{check['room_for']:,} replicas"],
        ["best reachable latency", _figure(check["best_latency_ms"], ".2f", " ms")],
        ["cheapest cost meeting it", _figure(check["cheapest_cost"], ".4g")],
    ]
    if predicted is not None:
        rows += [
            ["predicted SLA met", f"{predicted['sla_met_fraction']:.1%}"],
            ["predicted placed", f"{predicted['placed']:,} of {plan['replicas']:,}"],
            ["predicted cost", f"{predicted['cost']:.4g}"],
            ["predicted carbon", f"{predicted['carbon_g']:.4g} g"],
            ["fork run ahead", f"{predicted['horizon_s']:,.0f} s"],
        ]
    return whole_table([("check and prediction", "text"), ("", "number")], rows)


def conflict_table(conflicts: list[dict[str, Any]]) -> Table:
    """Each conflict: its kind, the constraints in conflict and what each asks and gets."""
    rows = [[c["kind"], " vs ".join(c["constraints"]), c["message"]] for c in conflicts]
    columns: list[tuple[str, Kind]] = [("conflict", "id"), ("constraints", "text")]
    return whole_table([*columns, ("why", "text")], rows, title="conflicts")


def plan_table(plan: dict[str, Any], wide: bool = False) -> RenderableType:
    """A plan: the translation, the figures, each replica's predicted node, any conflicts."""
    parts: list[RenderableType] = [derivation_table(plan["derivations"]), figures_table(plan)]
    predicted = plan["prediction"]
    intent = plan.get("intent")
    if predicted is not None:
        task_ids = intent["task_ids"] if intent else []
        rows = []
        for i in range(plan["replicas"]):
            node = predicted["per_task"].get(f"what-if-{i}") or "(not placed)"
            rows.append([str(i), task_ids[i] if i < len(task_ids) else "-", node])
        columns: list[tuple[str, Kind]] = [("#", "number"), ("task", "id")]
        parts.append(whole_table([*columns, ("predicted node", "id")], rows))
    if plan["conflicts"]:
        parts.append(conflict_table(plan["conflicts"]))
    if intent is not None:
        parts.append(f"intent {intent['id']} applied: {intent['status']}")
    elif plan["dry_run"] and not plan["conflicts"]:
        parts.append("dry run: nothing placed")
    return Group(*parts)


def intents_table(intents: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per intent: id, name, status, replicas; ``wide``: tenant and when applied."""
    columns: list[tuple[str, Kind]] = [("id", "id"), ("name", "text"), ("status", "id")]
    columns.append(("replicas", "number"))
    if wide:
        columns += [("tenant", "id"), ("applied", "id")]
    rows = []
    for i in intents:
        row = [i["id"], i["name"], i["status"], f"{len(i['task_ids']):,}"]
        if wide:
            row += [i["tenant"], iso_time(i["created_at_s"])]
        rows.append(row)
    return whole_table(columns, rows)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def assurance_table(intent: dict[str, Any]) -> Table:
    """The SLA share measured over the window against the fork's stored prediction."""
    assurance, predicted = intent["assurance"], intent.get("prediction")
    how = {"service": "of the time serving", "request": "of ended requests within budget"}
    measured = _share(assurance["measured"])
    if assurance["measured"] is not None:
        measured += f" {how.get(assurance['style'], '')} ({assurance['judged']:,} in window)"
    rows = [["measured SLA met", measured], ["predicted SLA met", _share(assurance["predicted"])]]
    if predicted is not None:
        sites = ", ".join(s or "(not placed)" for s in predicted["sites"])
        rows += [
            ["predicted cost", f"{predicted['cost']:.4g}"],
            ["predicted carbon", f"{predicted['carbon_g']:.4g} g"],
            ["predicted sites", sites],
            ["forked at", iso_time(predicted["forked_at_s"])],
            ["fork run ahead", f"{predicted['horizon_s']:,.0f} s"],
        ]
    return whole_table([("assurance", "text"), ("", "text")], rows)


def intent_table(intent: dict[str, Any], wide: bool = False) -> RenderableType:
    """One intent: its summary, translation, measured against predicted, tasks, history."""
    need = intent["body"]["need"]
    quantity = ", ".join(f"{k} {v:g}" for k, v in need.items() if k != "kind")
    summary = whole_table(
        [("intent", "text"), ("", "text")],
        [
            ["id", intent["id"]],
            ["name", intent["name"]],
            ["tenant", f"{intent['tenant']} (applied by {intent['who']})"],
            ["need", f"{need['kind']}: {quantity}"],
            ["status", intent["status"]],
            ["applied", iso_time(intent["created_at_s"])],
        ],
    )
    tasks = whole_table(  # in replica order
        [("task", "id"), ("state", "id"), ("node", "id")],
        [[t["id"], t["state"], t["node_id"] or "-"] for t in intent["tasks"]],
    )
    history = whole_table(
        [("at", "id"), ("status", "id"), ("avail.", "number"), ("reason", "text")],
        [
            [iso_time(c["at_s"]), c["status"], f"{c['availability']:.3f}", c["reason"]]
            for c in intent["history"]
        ],
        title="history",
    )
    derivations = derivation_table(intent["derivations"])
    return Group(summary, derivations, assurance_table(intent), tasks, history)
