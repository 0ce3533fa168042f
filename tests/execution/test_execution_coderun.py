"""End to end: a tenant's own package, built here, runs on its node with its staged input.

A real server and real agent processes (``LocalNet``, the three-site network); the package is
a zip written in the test, pushed as an artefact, its input uploaded as an object; the result
comes back through the API.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from suanwang.cli.localnet import THREE_SITES_NODES, USERS_SITE, LocalNet, write_three_sites

FINAL = {"completed", "failed", "rejected", "cancelled"}

WORDCOUNT = """
import json
from pathlib import Path


def run(inputs: Path, outputs: Path) -> None:
    counts = {}
    for path in sorted(inputs.iterdir()):
        for word in path.read_text().split():
            counts[word] = counts.get(word, 0) + 1
    (outputs / "counts.json").write_text(json.dumps(counts, sort_keys=True))
    (outputs / "inputs.txt").write_text("\\n".join(p.name for p in sorted(inputs.iterdir())))


def fail(inputs: Path, outputs: Path) -> None:
    raise RuntimeError("the tenant's code gave up")
"""


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("wordcount/__init__.py", WORDCOUNT)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    folder: Path = tmp_path_factory.mktemp("net")
    local = LocalNet(folder / "data", scenario=str(write_three_sites(folder)))
    try:
        local.start_server()
        for node in THREE_SITES_NODES:
            local.start_agent(node, interval_s=0.5)
        local.wait_heartbeats(list(THREE_SITES_NODES))
        yield local
    finally:
        local.close()


def _consumer(net: LocalNet, name: str, tenant: str) -> str:
    with net.client() as admin:
        body = {"id": name, "tenant": tenant, "roles": ["consumer"]}
        admin.post("/v1/principals", json=body).raise_for_status()
        token = admin.post(f"/v1/principals/{name}/tokens").raise_for_status()
        return str(token.json()["token"])


def _wait_final(client: httpx.Client, task_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        doc: dict[str, Any] = client.get(f"/v1/tasks/{task_id}").json()
        if doc["state"] in FINAL or time.monotonic() > deadline:
            return doc
        time.sleep(0.1)


def _submit(client: httpx.Client, **code: Any) -> dict[str, Any]:
    body = {"work_gflop": 1.0, "cpu_cores": 1.0, "mem_gib": 0.5, "ingress_site": USERS_SITE}
    response = client.post("/v1/tasks", json=body | code)
    assert response.status_code == 201, response.text
    return _wait_final(client, response.json()["id"], timeout_s=60.0)


def test_a_tenants_package_runs_on_its_node_and_returns_its_output(net: LocalNet) -> None:
    alice = _consumer(net, "alice", "acme")
    rival = _consumer(net, "eve", "rival")
    text = b"to be or not to be\n"
    with net.client(alice) as client, net.client(rival) as other:
        pushed = client.post("/v1/artefacts", params={"entry": "wordcount:run"}, content=_package())
        assert pushed.status_code == 201, pushed.text
        digest = client.post("/v1/objects", content=text).json()["digest"]
        doc = _submit(client, artefact=pushed.json()["digest"], inputs=[digest])
        assert doc["state"] == "completed", doc["reason"]
        node = doc["placement"]["node_id"]
        match = re.match(r"completed on (\S+) .*staged (\d+) B of input", doc["reason"])
        assert match, doc["reason"]
        assert match.group(1) == node
        assert int(match.group(2)) == len(text)
        result = client.get(f"/v1/tasks/{doc['id']}/result")
        assert result.status_code == 200, result.text
        with zipfile.ZipFile(io.BytesIO(result.content)) as archive:
            counts = json.loads(archive.read("counts.json"))
            staged = archive.read("inputs.txt").decode()
        assert counts == {"be": 2, "not": 1, "or": 1, "to": 2}
        assert staged == digest
        assert other.get(f"/v1/tasks/{doc['id']}/result").status_code == 404


def test_a_package_that_raises_is_reported_failed_with_its_error(net: LocalNet) -> None:
    alice = _consumer(net, "bob", "acme")
    with net.client(alice) as client:
        pushed = client.post("/v1/artefacts", params={"entry": "wordcount:run"}, content=_package())
        doc = _submit(client, artefact=pushed.json()["digest"], entry="wordcount:fail")
        assert doc["state"] == "failed"
        assert "the tenant's code gave up" in doc["reason"]
        assert client.get(f"/v1/tasks/{doc['id']}/result").status_code == 404
