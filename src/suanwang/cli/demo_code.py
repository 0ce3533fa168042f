"""The demo's tenant code step: a package built now, its input uploaded, its output fetched.

``run_tenant_package`` zips ``demo_package.py`` (shipped with suanwang) as the package
``tasksummary``, pushes it (``POST /v1/artefacts``), uploads the demo's ``tasks.csv`` as an
object (``POST /v1/objects``), submits a task naming both, waits for it and reads its result
(``GET /v1/tasks/{id}/result``, a zip of the run's output folder).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

ENTRY = "tasksummary:summarise"
FINAL = {"completed", "failed", "rejected", "cancelled"}


def build_package() -> bytes:
    """The ``tasksummary`` package as a zip's bytes, from the shipped ``demo_package.py``."""
    source = resources.files("suanwang.cli").joinpath("demo_package.py").read_text("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("tasksummary/__init__.py", source)
    return buffer.getvalue()


def run_tenant_package(client: httpx.Client, data: Path, timeout_s: float = 60.0) -> dict[str, Any]:
    """Run the package on ``data`` through the API; what ran where and its output.

    Raises:
        RuntimeError: the API refused a step, or the task did not complete (its reason).
    """
    started = time.perf_counter()
    pushed = client.post("/v1/artefacts", params={"entry": ENTRY}, content=build_package())
    if pushed.status_code != 201:
        raise RuntimeError(f"artefact refused: {pushed.status_code} {pushed.text}")
    uploaded = client.post("/v1/objects", content=data.read_bytes())
    if uploaded.status_code != 201:
        raise RuntimeError(f"input refused: {uploaded.status_code} {uploaded.text}")
    body = {"work_gflop": 0.1, "cpu_cores": 1.0, "mem_gib": 0.5, "ingress_site": "users"}
    body |= {"artefact": pushed.json()["digest"], "inputs": [uploaded.json()["digest"]]}
    answer = client.post("/v1/tasks", json=body)
    if answer.status_code != 201:
        raise RuntimeError(f"task refused: {answer.status_code} {answer.text}")
    task_id = answer.json()["id"]
    deadline = time.monotonic() + timeout_s
    while (doc := client.get(f"/v1/tasks/{task_id}").json())["state"] not in FINAL:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the tenant's task did not end within {timeout_s:g} s")
        time.sleep(0.05)
    if doc["state"] != "completed":
        raise RuntimeError(f"the tenant's task {doc['state']}: {doc['reason']}")
    result = client.get(f"/v1/tasks/{task_id}/result")
    result.raise_for_status()
    with zipfile.ZipFile(io.BytesIO(result.content)) as archive:
        summary = json.loads(archive.read("summary.json"))
    return {
        "task_id": task_id,
        "node": doc["placement"]["node_id"],
        "reason": doc["reason"],
        "input_bytes": data.stat().st_size,
        "output": summary,
        "seconds": time.perf_counter() - started,
    }
