"""Self-healing benchmark: failure detection time and re-placement time.

* ``plane``: a ``ControlPlane`` on SQLite with its health monitor (tick 0.1 s, suspect after
  0.5 s, down after 1 s) over ``THREE_SITES``; two sites send signed heartbeats every 0.1 s
  from a thread, ``TASKS`` small tasks are placed, then one busy site falls silent. Figures:
  *detection* (last heartbeat -> node down, as the monitor records it), *silence -> down*
  (the last heartbeat sent -> the down event seen by the bench) and *re-placement* (down
  decided -> every moved task re-placed and committed), with the tasks moved.
* ``agents`` (not in ``--quick``): the real thing: ``suanwang serve`` and three
  ``suanwang agent`` processes (heartbeat 0.5 s; suspect 1 s, down 2 s, tick 0.2 s), a
  workload of real tasks, one agent SIGKILLed by PID mid-run; *kill -> down* measured from
  outside, detection and re-placement read from the audit log. Before that, a long-running
  inference service is drained off its node: *hand-over* is the time the service ran twice,
  from its replacement placed to the replacement started and the old run released (the two
  steps of the task's history), *drain -> moved* the same seen through the API.

Medians of ``--runs``. Run: ``.venv/bin/python -m benchmarks.bench_healing [--runs N] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from suanwang.bootstrap import agent_dispatch, journal_for
from suanwang.cli.localnet import (
    THREE_SITES_NODES,
    USERS_SITE,
    LocalNet,
    write_three_sites,
)
from suanwang.control.stores import Principal, Role
from suanwang.model import TaskSpec
from suanwang.scenario import load_scenario
from suanwang.scheduling import resolve_profile
from suanwang.security import KeyPair, MetricReport, sign_report
from suanwang.security import Role as KeyRole
from suanwang.service import ControlPlane
from suanwang.service.health import HealthConfig, NodeHealth
from suanwang.storage import open_store

TASKS = 200
CONFIG = HealthConfig(tick_s=0.1, suspect_after_s=0.5, down_after_s=1.0)
BEAT_S = 0.1
USER = Principal("bench", "bench", frozenset({Role.CONSUMER}))
SPEC = TaskSpec(work_gflop=1.0, cpu_cores=0.005, mem_gib=0.01, ingress_site=USERS_SITE)


def _plane_run(folder: Path) -> dict[str, float]:
    scenario = load_scenario(write_three_sites(folder))
    with open_store(f"sqlite:///{folder / 'bench.db'}") as stores:
        plane = ControlPlane(
            stores,
            journal_for(stores),
            scenario,
            resolve_profile("cats-joint"),
            dispatch=agent_dispatch,
            health=CONFIG,
        )
        plane.start()
        try:
            return _silence_one(plane)
        finally:
            plane.stop()


def _silence_one(plane: ControlPlane) -> dict[str, float]:
    keys = {}
    for node in THREE_SITES_NODES:
        pair = KeyPair.generate(KeyRole.AGENT)
        who = Principal(f"a-{node}", "s", frozenset({Role.AGENT}), frozenset({node}), pair.key_id)
        plane.bind_agent_key(who, node, pair.public_bytes)
        keys[node] = pair
    futures = [plane.submit(USER, SPEC) for _ in range(TASKS)]
    placed = [f.result(30).task.placement for f in futures]
    counts = {n: sum(1 for p in placed if p is not None and p.node_id == n) for n in keys}
    victim = max(counts, key=lambda n: counts[n])
    silent = threading.Event()
    stop = threading.Event()
    last_beat = {"s": 0.0}

    def beat() -> None:
        for _ in range(100_000):
            if stop.is_set():
                return
            for node, pair in keys.items():
                if node == victim and silent.is_set():
                    continue
                plane.ingest(
                    sign_report(pair, MetricReport(node, {"load_ratio": 0.1}, time.time()))
                )
                if node == victim:
                    last_beat["s"] = time.monotonic()
            stop.wait(BEAT_S)

    thread = threading.Thread(target=beat)
    thread.start()
    try:
        time.sleep(0.5)
        silent.set()
        time.sleep(BEAT_S)  # a beat under way when silence fell has landed by now
        monitor = plane.health
        assert monitor is not None
        deadline = time.monotonic() + 10.0
        while monitor.state(victim) is not NodeHealth.DOWN and time.monotonic() < deadline:
            time.sleep(0.005)
        seen_down_s = time.monotonic()
        event = next(e for e in reversed(monitor.events) if e.state is NodeHealth.DOWN)
    finally:
        stop.set()
        thread.join(5)
    assert event.detection_s is not None
    assert event.replacement_s is not None
    return {
        "detection_s": event.detection_s,
        "silence_to_down_s": seen_down_s - last_beat["s"],
        "replacement_s": event.replacement_s,
        "moved": float(event.moved),
    }


def _agents_run(folder: Path) -> dict[str, float]:
    health = {"suspect_after_s": "1.0", "down_after_s": "2.0", "health_tick_s": "0.2"}
    victim = THREE_SITES_NODES[0]
    with LocalNet(folder, scenario=str(write_three_sites(folder)), health=health) as net:
        net.start_server()
        for node in THREE_SITES_NODES:
            net.start_agent(node, interval_s=0.5, workers=2)
        net.wait_heartbeats(list(THREE_SITES_NODES))
        body = {"work_gflop": 0.5, "task_type": "inference", "ingress_site": USERS_SITE}
        body |= {"task_class": "hot", "cpu_cores": 0.5}
        with net.client() as client:
            handover = _handover(client)
            for _ in range(12):
                client.post("/v1/tasks", json=body).raise_for_status()
            killed_s, killed_at = time.monotonic(), time.time()
            net.kill_agent(victim)
            for _ in range(2000):
                if client.get(f"/v1/nodes/{victim}").json()["state"] == "down":
                    break
                time.sleep(0.01)
            kill_to_down_s = time.monotonic() - killed_s
            detail = ""
            for _ in range(100):
                audit = client.get("/v1/audit", params={"since_s": killed_at, "limit": 1000})
                healed = [e for e in audit.json() if e["action"] == "node.healed"]
                if healed:
                    detail = healed[0]["detail"]
                    break
                time.sleep(0.05)
    return handover | {
        "kill_to_down_s": kill_to_down_s,
        "detection_s": float(re.findall(r"detection ([\d.]+) s", detail)[0]),
        "replacement_s": float(re.findall(r"re-placement ([\d.]+) s", detail)[0]),
        "moved": float(re.findall(r"for (\d+) tasks", detail)[0]),
    }


def _handover(client: httpx.Client) -> dict[str, float]:
    """Drain the node of a running long-running service; how long until it moved."""
    body = {"work_gflop": 40.0, "task_type": "inference", "ingress_site": USERS_SITE}
    body |= {"cpu_cores": 0.5, "long_running": True}
    task_id = client.post("/v1/tasks", json=body).raise_for_status().json()["id"]
    for _ in range(1000):
        doc = client.get(f"/v1/tasks/{task_id}").json()
        if doc["state"] == "running":
            break
        time.sleep(0.01)
    node = doc["placement"]["node_id"]
    drained_s = time.monotonic()
    client.post(f"/v1/nodes/{node}/drain", json={"reason": "bench"}).raise_for_status()
    for _ in range(2000):
        doc = client.get(f"/v1/tasks/{task_id}").json()
        if doc["placement"]["node_id"] != node:
            break
        time.sleep(0.01)
    drain_to_moved_s = time.monotonic() - drained_s
    placed, moved = doc["history"][-2:]  # the two steps of the hand-over
    handed_over = moved["reason"].startswith("moved to")
    if not handed_over or "replacement is placed" not in placed["reason"]:
        raise RuntimeError(f"the service did not hand over: {doc['history']}")
    client.post(f"/v1/nodes/{node}/up").raise_for_status()
    client.post(f"/v1/tasks/{task_id}/cancel").raise_for_status()
    return {"handover_s": moved["at_s"] - placed["at_s"], "drain_to_moved_s": drain_to_moved_s}


def _print(name: str, runs: list[dict[str, float]]) -> None:
    for key in runs[0]:
        values = [run[key] for run in runs]
        median = statistics.median(values)
        unit = "" if key == "moved" else " s"
        print(f"  {name} {key:<18} median {median:8.3f}{unit}  (min {min(values):.3f}, "
              f"max {max(values):.3f})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="repetitions (median reported)")
    parser.add_argument("--quick", action="store_true", help="1 in-process run, no agents")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    runs = 1 if args.quick else args.runs
    print(
        f"healing: {runs} runs; Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"plane: {TASKS} tasks, tick {CONFIG.tick_s} s, down after {CONFIG.down_after_s} s"
    )
    with tempfile.TemporaryDirectory(prefix="bench-healing-") as tmp:
        plane_runs = [_plane_run(Path(tmp) / f"plane-{i}") for i in range(runs)]
        _print("plane ", plane_runs)
        if not args.quick:
            agent_runs = [_agents_run(Path(tmp) / f"agents-{i}") for i in range(min(runs, 3))]
            _print("agents", agent_runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
