"""End to end: a three-stage task graph runs on three sites' agents, each stage's output the next
one's input.

A real server and real agent processes (``LocalNet``, the three-site network: one node of two
cores per site). Every stage asks for two cores, so the placement puts each on its own site.
The stages are a tenant's package built here (decode -> detect -> aggregate on text); the
final output, fetched through the API, is checked against the same transformation done here.
"""

from __future__ import annotations

import io
import itertools
import json
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from suanwang.cli.localnet import THREE_SITES_NODES, USERS_SITE, LocalNet, write_three_sites

PIPELINE = """
import json
import time
import zipfile
from pathlib import Path


def _only(inputs: Path) -> Path:
    files = sorted(inputs.iterdir())
    assert len(files) == 1, [p.name for p in files]
    return files[0]


def _from_zip(inputs: Path, name: str) -> str:
    with zipfile.ZipFile(_only(inputs)) as archive:
        return archive.read(name).decode()


def decode(inputs: Path, outputs: Path) -> None:
    text = _only(inputs).read_text()
    words = ["".join(c for c in w.lower() if c.isalpha()) for w in text.split()]
    (outputs / "words.txt").write_text("\\n".join(w for w in words if w))


def detect(inputs: Path, outputs: Path) -> None:
    words = _from_zip(inputs, "words.txt").split("\\n")
    (outputs / "objects.txt").write_text("\\n".join(w for w in words if len(w) >= 4))


def aggregate(inputs: Path, outputs: Path) -> None:
    counts = {}
    for word in _from_zip(inputs, "objects.txt").split("\\n"):
        counts[word] = counts.get(word, 0) + 1
    (outputs / "counts.json").write_text(json.dumps(counts, sort_keys=True))


def slow(inputs: Path, outputs: Path) -> None:
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        time.sleep(0.1)
"""

TEXT = "The cat saw the bird; the BIRD saw a dog. Birds sing, cats sleep, the dog barks!\n"


def _expected(text: str) -> dict[str, int]:
    words = ["".join(c for c in w.lower() if c.isalpha()) for w in text.split()]
    return dict(Counter(w for w in words if len(w) >= 4))


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pipeline/__init__.py", PIPELINE)
    return buffer.getvalue()


def _graph(artefact: str, text_digest: str, first: str = "decode") -> dict[str, Any]:
    def stage(name: str, entry: str, **extra: Any) -> dict[str, Any]:
        fields = {"id": name, "work_gflop": 1, "cpu_cores": 2, "mem_gib": 0.5}
        return fields | {"artefact": artefact, "entry": f"pipeline:{entry}"} | extra

    return {
        "id": "words",
        "ingress_site": USERS_SITE,
        "stages": [
            stage("decode", first, inputs=[text_digest], input_mb=0.1),
            stage("detect", "detect"),
            stage("aggregate", "aggregate", result_mb=0.01),
        ],
        "edges": [
            {"src": "decode", "dst": "detect", "data_mb": 0.1},
            {"src": "detect", "dst": "aggregate", "data_mb": 0.05},
        ],
    }


# Three agents' sandboxes share this machine's cores: what a node measures says nothing of its
# claim here, so no node is quarantined as inflated (the graph needs all three).
SETTINGS = {"attest_tolerance": "0"}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    folder: Path = tmp_path_factory.mktemp("net")
    scenario = str(write_three_sites(folder))
    local = LocalNet(folder / "data", scenario=scenario, health=SETTINGS)
    try:
        local.start_server()
        for node in THREE_SITES_NODES:
            local.start_agent(node, interval_s=0.2)
        local.wait_heartbeats(list(THREE_SITES_NODES))
        yield local
    finally:
        local.close()


@pytest.fixture(scope="module")
def tenant(net: LocalNet) -> Iterator[httpx.Client]:
    with net.client() as admin:
        body = {"id": "carol", "tenant": "acme", "roles": ["consumer"]}
        admin.post("/v1/principals", json=body).raise_for_status()
        token = str(admin.post("/v1/principals/carol/tokens").raise_for_status().json()["token"])
    with net.client(token) as client:
        yield client


@pytest.fixture(scope="module")
def code(tenant: httpx.Client) -> tuple[str, str]:
    """The pipeline package's artefact digest and the input text's object digest."""
    pushed = tenant.post("/v1/artefacts", content=_package(), params={"entry": "pipeline:decode"})
    assert pushed.status_code == 201, pushed.text
    text = tenant.post("/v1/objects", content=TEXT.encode())
    assert text.status_code == 201, text.text
    return str(pushed.json()["digest"]), str(text.json()["digest"])


def _wait(client: httpx.Client, run_id: str, done: Any, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        doc: dict[str, Any] = client.get(f"/v1/graphs/{run_id}").raise_for_status().json()
        if done(doc) or time.monotonic() > deadline:
            return doc
        time.sleep(0.1)


def test_a_pipeline_runs_stage_by_stage_on_three_sites_passing_outputs_on(
    tenant: httpx.Client, code: tuple[str, str]
) -> None:
    artefact, text = code
    created = tenant.post("/v1/graphs", json=_graph(artefact, text))
    assert created.status_code == 201, created.text
    doc = _wait(tenant, created.json()["id"], lambda d: d["state"] != "running", 90.0)
    assert doc["state"] == "completed", json.dumps(doc, indent=1)
    stages = {s["stage"]: s for s in doc["stages"]}
    sites = {s["planned_site"] for s in stages.values()}
    assert len(sites) == 3
    for stage in stages.values():
        assert stage["state"] == "completed"
        assert stage["node_id"] == stage["planned_node"]
        assert stage["output"] is not None
        assert stage["measured_run_ms"] > 0
        assert stage["run_error"] is not None
    order = [stages[name] for name in ("decode", "detect", "aggregate")]
    for before, after in itertools.pairwise(order):
        assert after["started_ms"] >= before["finished_ms"]
        task = tenant.get(f"/v1/tasks/{after['task_id']}").json()
        assert before["output"] in task["spec"]["inputs"]
    assert doc["measured_makespan_ms"] >= order[-1]["finished_ms"] - 1e-6
    assert doc["makespan_error"] is not None
    final = tenant.get(f"/v1/objects/{order[-1]['output']}")
    assert final.status_code == 200, final.text
    with zipfile.ZipFile(io.BytesIO(final.content)) as archive:
        assert json.loads(archive.read("counts.json")) == _expected(TEXT)


def test_a_graph_no_node_can_hold_is_refused_naming_the_stage(
    tenant: httpx.Client, code: tuple[str, str]
) -> None:
    graph = _graph(*code)
    graph["stages"][1]["cpu_cores"] = 3
    refused = tenant.post("/v1/graphs", json=graph)
    assert refused.status_code == 422, refused.text
    assert "'detect'" in refused.json()["detail"]


def test_cancel_stops_the_running_stage_and_the_rest_never_start(
    tenant: httpx.Client, code: tuple[str, str]
) -> None:
    created = tenant.post("/v1/graphs", json=_graph(*code, first="slow"))
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]

    def first_running(doc: dict[str, Any]) -> bool:
        return bool(doc["stages"][0]["state"] == "running")

    doc = _wait(tenant, run_id, first_running, 60.0)
    assert first_running(doc), json.dumps(doc, indent=1)
    cancelled = tenant.delete(f"/v1/graphs/{run_id}")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    task_id = doc["stages"][0]["task_id"]
    deadline = time.monotonic() + 30.0
    task = tenant.get(f"/v1/tasks/{task_id}").json()
    while task["state"] != "cancelled" and time.monotonic() < deadline:
        time.sleep(0.1)
        task = tenant.get(f"/v1/tasks/{task_id}").json()
    assert task["state"] == "cancelled"
    after = tenant.get(f"/v1/graphs/{run_id}").json()
    assert [s["task_id"] for s in after["stages"][1:]] == [None, None]
    assert {s["state"] for s in after["stages"]} == {"cancelled"}
