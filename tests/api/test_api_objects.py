"""Objects, artefacts and results through the API: tenant namespaces, limits, agents' access."""

from __future__ import annotations

import hashlib
import io
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import CPU_TASK, Api, make_settings, seed_principals

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note on httpx
    from fastapi.testclient import TestClient

from suanwang.api import create_app
from suanwang.control.stores import Principal, Role

LIMIT_BYTES = 64 << 10
CODE = "def run(inputs, outputs):\n    pass\n"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(tmp_path, max_object_bytes=LIMIT_BYTES)
    tokens = seed_principals(settings)
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings, tokens)


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _push(api: Api, who: str = "alice", entry: str = "job:run") -> Any:
    archive = _zip({"job.py": CODE})
    response = api.call(who, "POST", f"/v1/artefacts?entry={entry}", content=archive)
    assert response.status_code == 201, response.text
    return response.json()


def test_an_object_goes_up_and_comes_back_by_its_digest(api: Api) -> None:
    data = b"sensor readings\n" * 4000
    put = api.call("alice", "POST", "/v1/objects", content=data)
    assert put.status_code == 201
    digest = put.json()["digest"]
    assert digest == hashlib.sha256(data).hexdigest()
    got = api.call("alice", "GET", f"/v1/objects/{digest}")
    assert got.status_code == 200
    assert got.content == data
    listed = api.call("alice", "GET", "/v1/objects").json()
    assert [(o["digest"], o["size_bytes"]) for o in listed] == [(digest, len(data))]
    assert api.call("alice", "DELETE", f"/v1/objects/{digest}").status_code == 204
    assert api.call("alice", "GET", f"/v1/objects/{digest}").status_code == 404


def test_uploads_past_the_body_limit_are_held_to_the_object_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_object_bytes=3 << 20)
    tokens = seed_principals(settings)
    with TestClient(create_app(settings)) as client:
        api = Api(client, settings, tokens)
        big = bytes(2 << 20)  # over the 1 MiB body limit, under the object limit
        assert api.call("alice", "POST", "/v1/objects", content=big).status_code == 201
        too_big = api.call("alice", "POST", "/v1/objects", content=bytes(4 << 20))
        assert too_big.status_code == 413
        assert f"limit of {3 << 20} bytes (max_object_bytes)" in too_big.json()["detail"]
        tasks = api.call("alice", "POST", "/v1/tasks", content=bytes(2 << 20))
        assert tasks.status_code == 413  # other routes keep the body limit


def test_an_object_over_the_limit_is_a_413_naming_the_limit(api: Api) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(3):
            yield bytes(LIMIT_BYTES // 2)

    answer = api.call("alice", "POST", "/v1/objects", content=chunks())
    assert answer.status_code == 413
    assert f"{LIMIT_BYTES} bytes (max_object_bytes)" in answer.json()["detail"]
    assert api.call("alice", "GET", "/v1/objects").json() == []


def test_a_tenant_cannot_read_or_delete_another_tenants_objects(api: Api) -> None:
    digest = api.call("alice", "POST", "/v1/objects", content=b"acme only").json()["digest"]
    assert api.call("bob", "GET", f"/v1/objects/{digest}").status_code == 404
    assert api.call("bob", "DELETE", f"/v1/objects/{digest}").status_code == 404
    assert api.call("bob", "GET", "/v1/objects").json() == []
    assert api.call("alice", "GET", f"/v1/objects/{digest}").content == b"acme only"
    assert api.call(None, "GET", f"/v1/objects/{digest}").status_code == 401


def test_a_bad_digest_is_a_422_naming_it(api: Api) -> None:
    answer = api.call("alice", "GET", "/v1/objects/not-a-digest")
    assert answer.status_code == 422
    assert "digest" in answer.text


def test_an_artefact_is_pushed_and_read_back(api: Api) -> None:
    pushed = _push(api)
    assert pushed["entry"] == "job:run"
    assert pushed["format"] == "zip"
    got = api.call("alice", "GET", f"/v1/artefacts/{pushed['digest']}")
    assert got.json() == pushed
    assert api.call("bob", "GET", f"/v1/artefacts/{pushed['digest']}").status_code == 404


def test_a_bad_artefact_is_a_422_saying_why(api: Api) -> None:
    archive = _zip({"job.py": CODE})
    no_module = api.call("alice", "POST", "/v1/artefacts?entry=other:run", content=archive)
    assert no_module.status_code == 422
    assert "query.entry" in no_module.json()["detail"]
    assert "no other.py" in no_module.json()["detail"]
    not_zip = api.call("alice", "POST", "/v1/artefacts?entry=a:b", content=b"plain text")
    assert not_zip.status_code == 422
    assert "not a zip" in not_zip.json()["detail"]


def test_a_task_names_its_artefact_and_inputs_and_counts_their_size(api: Api) -> None:
    pushed = _push(api)
    data = bytes(20_000)
    digest = api.call("alice", "POST", "/v1/objects", content=data).json()["digest"]
    body = {**CPU_TASK, "artefact": pushed["digest"], "inputs": [digest]}
    task = api.submit("alice", body)
    assert task["spec"]["artefact"] == pushed["digest"]
    assert task["spec"]["inputs"] == [digest]
    assert task["spec"]["data_in_mb"] == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"artefact": "0" * 64}, "body.artefact"),
        ({"inputs": ["1" * 64]}, "body.inputs"),
        ({"entry": "job:run"}, "body.entry"),
    ],
)
def test_a_task_naming_missing_objects_is_a_422_naming_the_field(
    api: Api, extra: dict[str, Any], path: str
) -> None:
    pushed = _push(api)
    body = {**CPU_TASK, **extra}
    if "inputs" in extra:
        body["artefact"] = pushed["digest"]
    answer = api.call("alice", "POST", "/v1/tasks", json=body)
    assert answer.status_code == 422, answer.text
    assert path in answer.json()["detail"]


def test_another_tenants_artefact_cannot_be_named(api: Api) -> None:
    pushed = _push(api, "alice")
    answer = api.call("bob", "POST", "/v1/tasks", json={**CPU_TASK, "artefact": pushed["digest"]})
    assert answer.status_code == 422
    assert "body.artefact" in answer.json()["detail"]


def _agent(api: Api, node: str, name: str = "agent") -> str:
    api.add_principal(Principal(name, "acme-compute", frozenset({Role.AGENT}), frozenset({node})))
    return name


def test_an_agent_fetches_only_what_its_run_names_and_stores_its_result(api: Api) -> None:
    pushed = _push(api)
    data = b"input bytes"
    digest = api.call("alice", "POST", "/v1/objects", content=data).json()["digest"]
    other = api.call("alice", "POST", "/v1/objects", content=b"unrelated").json()["digest"]
    task = api.submit("alice", {**CPU_TASK, "artefact": pushed["digest"], "inputs": [digest]})
    node = task["placement"]["node_id"]
    agent = _agent(api, node)
    pulled = api.call(agent, "POST", f"/v1/agents/{node}/pull", json={"limit": 8}).json()
    assert [t["id"] for t in pulled] == [task["id"]]
    base = f"/v1/agents/{node}/runs/{task['id']}"
    assert api.call(agent, "GET", f"{base}/objects/{digest}").content == data
    archive = api.call(agent, "GET", f"{base}/objects/{pushed['archive']}")
    assert hashlib.sha256(archive.content).hexdigest() == pushed["archive"]
    assert api.call(agent, "GET", f"{base}/objects/{other}").status_code == 403
    stranger = _agent(api, "edge-futian-mec-9", "stranger")
    assert api.call(stranger, "GET", f"{base}/objects/{digest}").status_code == 403
    assert api.call("alice", "GET", f"/v1/tasks/{task['id']}/result").status_code == 404
    result = _zip({"answer.txt": "42"})
    assert api.call(agent, "POST", f"{base}/result", content=result).status_code == 201
    got = api.call("alice", "GET", f"/v1/tasks/{task['id']}/result")
    assert got.status_code == 200
    assert got.content == result
    assert api.call("bob", "GET", f"/v1/tasks/{task['id']}/result").status_code == 404
