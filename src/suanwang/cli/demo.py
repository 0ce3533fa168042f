"""``suanwang demo``: the main job on the embedded default, end to end on this machine.

It starts the control plane (``suanwang serve`` on SQLite, in a fresh folder) with a small
built-in network of three sites, starts one agent process per site, and sends a mixed hot /
warm / cold workload of real work (matrix products, frame transcoding, inference) through the
HTTP API. First a long-running inference service is started and the site it runs on is
drained for maintenance: the service moves to another site without a break (its replacement
starts before the old run is released). Half-way through the workload, one site's agent is
killed without warning: the control plane notices the silence, takes the node down, re-places
its tasks, and lets the node back when its agent returns. Then it prints what happened per
class and writes a report folder with plots; a tenant's own package, built now from
``demo_package.py``, summarises that report's ``tasks.csv`` on an agent (``demo_code``) and its
output is printed; then it keeps serving (the API URL and an admin token are
printed) until Ctrl-C, or stops with ``--exit``.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel

from suanwang import __version__
from suanwang.cli.common import console
from suanwang.cli.output import print_whole

HEALTH = {"suspect_after_s": "1.0", "down_after_s": "2.0", "health_tick_s": "0.2"}
"""Self-healing thresholds of the demo (the server's defaults are 3 s and 5 s)."""
HEARTBEAT_S = 0.5
VICTIM = "edge-north-1"
FINAL = {"completed", "failed", "rejected", "cancelled"}


def _spec(i: int) -> dict[str, Any]:
    """The i-th request of the mix: hot inference, warm transcoding, cold matrix products."""
    base: dict[str, Any] = {"cpu_cores": 1.0, "mem_gib": 0.5, "ingress_site": "users"}
    match i % 3:
        case 0:
            return base | {"task_class": "hot", "task_type": "inference", "work_gflop": 0.5,
                           "latency_budget_ms": 1000.0}  # fmt: skip
        case 1:
            return base | {"task_class": "warm", "task_type": "transcode", "work_gflop": 0.5,
                           "deadline_s": 10.0}  # fmt: skip
        case _:
            return base | {"task_class": "cold", "task_type": "matmul", "work_gflop": 10.0}


def demo(
    *,
    tasks: Annotated[int, typer.Option(min=3, max=2000, help="Requests in the workload.")] = 30,
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path(".suanwang/demo-report"),
    data_dir: Annotated[
        Path | None, typer.Option(help="Database and logs (default: a new temp folder).")
    ] = None,
    kill: Annotated[bool, typer.Option(help="Kill one site's agent half-way.")] = True,
    exit_after: Annotated[
        bool, typer.Option("--exit", help="Stop after the workload instead of serving.")
    ] = False,
) -> None:
    """Run a small computing force network here: control plane, three site agents, a workload."""
    from suanwang.cli.demo_code import run_tenant_package  # noqa: PLC0415
    from suanwang.cli.demo_report import class_rows, outcome_of, summary_table, write_report  # noqa: PLC0415
    from suanwang.cli.localnet import THREE_SITES_NODES, LocalNet, write_three_sites  # noqa: PLC0415

    folder = data_dir or Path(tempfile.mkdtemp(prefix="suanwang-demo-"))
    console.print(
        Panel.fit(
            f"suanwang {__version__} — computing force network (算力网络)\n"
            "A control plane (HTTP API, SQLite) and three sites, each a real agent process on\n"
            "this machine. A long-running service moves off a drained site without a break; then\n"
            f"{tasks} real tasks are sent through the API, and half-way the agent of {VICTIM}\n"
            "is killed (SIGKILL) and the network heals around it.",
            title="make demo",
        )
    )
    net = LocalNet(folder, scenario=str(write_three_sites(folder)), health=dict(HEALTH))
    try:
        started = time.perf_counter()
        net.start_server()
        for node in THREE_SITES_NODES:
            net.start_agent(node, interval_s=HEARTBEAT_S, workers=2)
        net.wait_heartbeats(list(THREE_SITES_NODES))
        console.print(
            f"control plane at [bold]{net.url}[/] and {len(THREE_SITES_NODES)} agents "
            f"({', '.join(THREE_SITES_NODES)}) up in {time.perf_counter() - started:.1f} s"
        )
        with net.client() as client, console.status("moving a service off a drained site"):
            handover = _handover(client)
        console.print(
            f"make-before-break: the long-running service on {handover['from']} moved to "
            f"{handover['to']} while serving; both ran for {1e3 * handover['overlap_s']:.0f} ms, "
            f"then the run on {handover['from']} was released ({handover['from']} drained for "
            "maintenance, then back in the pool)"
        )
        docs, healing = _workload(net, tasks, kill)
        healing["handover"] = handover
        outcomes = [outcome_of(doc) for doc in docs]
        rows = class_rows(outcomes)
        print_whole(summary_table(rows))
        misplaced = [o for o in outcomes if o.state == "completed" and o.ran_on != o.placed_on]
        console.print(
            f"{sum(o.state == 'completed' for o in outcomes)}/{len(outcomes)} tasks completed; "
            f"{len(misplaced)} ran anywhere but where the control plane placed them. Latency: "
            "acceptance to the agent's report, measured here over loopback."
        )
        if healing:
            console.print(
                f"self-healing: {VICTIM} killed; detection {healing['detection_s']:.2f} s "
                f"(last heartbeat -> down), re-placement {healing['replacement_s']:.3f} s "
                f"(tasks moved: {healing['moved']}), back in the pool: {healing['back_up']}"
            )
        files = write_report(out, outcomes, rows, healing)
        console.print(f"report: {out}/ ({', '.join(p.name for p in files)})")
        with net.client() as client, console.status("running a tenant's own package"):
            tenant = run_tenant_package(client, out / "tasks.csv")
        console.print(
            f"tenant code: the package tasksummary (built now from suanwang/cli/demo_package.py)"
            f" ran on {tenant['node']} in its sandbox with tasks.csv ({tenant['input_bytes']} B)"
            f" staged as its input, {tenant['seconds']:.1f} s from push to result; its output"
            " summary.json, fetched through the API:"
        )
        console.print_json(json.dumps(tenant["output"]))
        console.print(f"API: {net.url}/docs   admin token: {net.admin_token}   data: {folder}")
        if not exit_after:
            console.print("serving until Ctrl-C (try: suanwang node list, suanwang task list)")
            _serve_until_interrupted()
    finally:
        net.close()
    if misplaced:
        raise typer.Exit(1)


def _serve_until_interrupted() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping")


def _workload(net: Any, count: int, kill: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Send the mix, kill the victim half-way, wait for every task; returns docs and healing."""
    healing: dict[str, Any] = {}
    with net.client() as client, console.status(f"running {count} tasks"):
        ids, killed_at_s = [], None
        for i in range(count):
            response = client.post("/v1/tasks", json=_spec(i))
            response.raise_for_status()
            ids.append(response.json()["id"])
            if kill and i == count // 2:
                killed_at_s = time.time()
                net.kill_agent(VICTIM)
            time.sleep(0.2)  # a stream of requests, not one burst
        docs = _wait_final(client, ids, timeout_s=120.0)
        if killed_at_s is not None:
            healing = _healing(net, client, killed_at_s)
    return docs, healing


SERVICE = {"work_gflop": 25.0, "task_type": "inference", "ingress_site": "users",
           "cpu_cores": 1.0, "mem_gib": 0.5, "task_class": "hot", "long_running": True}  # fmt: skip
"""An inference endpoint standing for a service: ~1.5 s of work on one core here."""


def _handover(client: Any) -> dict[str, Any]:
    """Start the service, drain its node, wait for the move; the node comes back after.

    Raises:
        RuntimeError: the service did not move (its history is in the message).
    """
    task_id = client.post("/v1/tasks", json=SERVICE).raise_for_status().json()["id"]
    deadline = time.monotonic() + 30.0
    while (doc := client.get(f"/v1/tasks/{task_id}").json())["state"] != "running":
        if doc["state"] in FINAL or time.monotonic() > deadline:
            raise RuntimeError(f"the service did not start: {doc['reason']}")
        time.sleep(0.05)
    node = doc["placement"]["node_id"]
    client.post(f"/v1/nodes/{node}/drain", json={"reason": "maintenance"}).raise_for_status()
    while (doc := client.get(f"/v1/tasks/{task_id}").json())["placement"]["node_id"] == node:
        if doc["state"] in FINAL or time.monotonic() > deadline:
            raise RuntimeError(f"the service did not move: {doc['history']}")
        time.sleep(0.02)
    client.post(f"/v1/nodes/{node}/up").raise_for_status()
    placed, moved = doc["history"][-2:]
    [done] = _wait_final(client, [task_id], timeout_s=60.0)
    return {
        "task_id": task_id,
        "from": node,
        "to": moved["reason"].split()[2],
        "overlap_s": moved["at_s"] - placed["at_s"],
        "state": done["state"],
    }


def _wait_final(client: Any, ids: list[str], timeout_s: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        docs = [client.get(f"/v1/tasks/{task_id}").json() for task_id in ids]
        if all(d["state"] in FINAL for d in docs) or time.monotonic() > deadline:
            return docs
        time.sleep(0.2)


def _healing(net: Any, client: Any, since_s: float) -> dict[str, Any]:
    """Detection and re-placement times from the audit log, and the node's return."""
    deadline = time.monotonic() + 15.0
    detail = ""
    while not detail and time.monotonic() < deadline:
        audit = client.get("/v1/audit", params={"since_s": since_s, "limit": 1000}).json()
        healed = [e for e in audit if e["action"] == "node.healed"]
        detail = healed[0]["detail"] if healed else ""
        time.sleep(0.1)
    if not detail:
        return {}
    net.start_agent(VICTIM, interval_s=HEARTBEAT_S, workers=2)
    back = False
    while not back and time.monotonic() < deadline + 15.0:
        back = client.get(f"/v1/nodes/{VICTIM}").json()["state"] == "up"
        time.sleep(0.1)
    return {
        "node": VICTIM,
        "detection_s": float(re.findall(r"detection ([\d.]+) s", detail)[0]),
        "replacement_s": float(re.findall(r"re-placement ([\d.]+) s", detail)[0]),
        "moved": int(re.findall(r"for (\d+) tasks", detail)[0]),
        "back_up": back,
    }
