"""``suanwang services list | show | register``: the service catalogue (CS-IDs, CSCI-IDs).

A task that names a service (``service_id``, a CS-ID) runs on a node hosting one of the
service's instances (CSCI-IDs); these commands show which instances there are and the state of
each instance's node (only an instance on an up node takes new requests; one on a draining or
retired node is being left). ``register -f FILE`` adds a service with its instances, one record
as in a scenario file's ``services`` list.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from suanwang.cli.client import call
from suanwang.cli.crud import add_list, add_show
from suanwang.cli.output import AsJson, Kind, Output, chosen, emit, whole_table
from suanwang.cli.registration import RecordFile, change_table, read_record
from suanwang.cli.tasks import DEFAULT_URL, CaFile, Token, Url

services_app = typer.Typer(
    help="The service catalogue: services (CS-IDs) and their instances (CSCI-IDs).",
    no_args_is_help=True,
)

ServiceId = Annotated[str, typer.Argument(help="The service's CS-ID.")]


def _serving(service: dict[str, Any]) -> int:
    return sum(1 for i in service["instances"] if i["node_state"] == "up")


def services_table(services: list[dict[str, Any]], wide: bool = False) -> Table:
    """One row per service: id, instances, how many on up nodes, task type; ``wide``: the nodes.

    A totals row sums the instances.
    """
    columns: list[tuple[str, Kind]] = [("id", "id"), ("instances", "number"), ("up", "number")]
    columns.append(("task type", "id"))
    if wide:
        columns += [("name", "text"), ("nodes", "text")]
    rows = []
    for s in services:
        row = [s["id"], f"{len(s['instances']):,}", f"{_serving(s):,}", s["task_type"] or ""]
        if wide:
            row += [s["name"], ", ".join(i["node_id"] for i in s["instances"])]
        rows.append(row)
    total = sum(len(s["instances"]) for s in services)
    up = sum(_serving(s) for s in services)
    totals = ["total", f"{total:,}", f"{up:,}", *([""] * (len(columns) - 3))]
    return whole_table(columns, rows, totals=totals)


def instances_table(service: dict[str, Any], wide: bool = False) -> Table:
    """One row per instance of a service: CSCI-ID, node, the node's state."""
    columns: list[tuple[str, Kind]] = [("instance", "id"), ("node", "id"), ("state", "id")]
    rows = [[i["id"], i["node_id"], i["node_state"]] for i in service["instances"]]
    return whole_table(columns, rows)


add_list(
    services_app,
    "/v1/services",
    services_table,
    "services",
    "Every service of the live catalogue with its instance count and how many are up.",
)
add_show(
    services_app,
    "/v1/services",
    ServiceId,
    instances_table,
    "One service's instances: CSCI-ID, node and the node's state.",
)


@services_app.command("register")
def register_service(
    *,
    file: RecordFile,
    url: Url = DEFAULT_URL,
    token: Token = "",
    ca_file: CaFile = None,
    fmt: Output = None,
    as_json: AsJson = False,
) -> None:
    """Add a service with its instances on known nodes (one record, as in a scenario file)."""
    body = read_record(file)
    made = call(url, token, "POST", "/v1/services", json=body, ca_file=ca_file)
    emit(made, chosen(fmt, as_json), change_table)
