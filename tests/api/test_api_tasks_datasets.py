"""Tasks naming input datasets over the API: accepted, stored and placed; unknown ids refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from api_support import CPU_TASK, Api, make_settings, seed_principals
from fastapi.testclient import TestClient

from suanwang.api import create_app
from suanwang.scenario import builtin_text

HOLDER = "onsite-futian-cbd"


@pytest.fixture
def data_api(tmp_path: Path) -> Iterator[Api]:
    """The API serving metro-edge with one 200 MB dataset stored at ``HOLDER``."""
    data = yaml.safe_load(builtin_text("metro-edge"))
    data["datasets"] = [{"id": "footage", "size_mb": 200.0, "sites": [HOLDER]}]
    path = tmp_path / "with-data.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    settings = make_settings(tmp_path, scenario=str(path))
    tokens = seed_principals(settings)
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings, tokens)


def test_a_task_reads_a_known_dataset(data_api: Api) -> None:
    task = data_api.submit("alice", {**CPU_TASK, "datasets": ["footage"]})
    assert task["spec"]["datasets"] == ["footage"]
    assert task["state"] == "scheduled"
    stored = data_api.call("alice", "GET", f"/v1/tasks/{task['id']}").json()
    assert stored["spec"]["datasets"] == ["footage"]
    refused = data_api.call("alice", "POST", "/v1/tasks", json={**CPU_TASK, "datasets": ["x"]})
    assert refused.json()["errors"][0]["message"] == "unknown dataset 'x'; known: footage"


def test_an_unknown_dataset_is_a_422_naming_it(api: Api) -> None:
    response = api.call("alice", "POST", "/v1/tasks", json={**CPU_TASK, "datasets": ["nowhere"]})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["path"] == "body.datasets[0]"
    assert error["message"] == "unknown dataset 'nowhere'; known: none"
    assert api.call("admin", "GET", "/v1/tasks").json()["items"] == []


def test_a_dataset_named_twice_is_a_422(api: Api) -> None:
    body = {**CPU_TASK, "datasets": ["footage", "footage"]}
    response = api.call("alice", "POST", "/v1/tasks", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "body.datasets"


def test_a_task_without_datasets_shows_none(api: Api) -> None:
    assert api.submit("alice", CPU_TASK)["spec"]["datasets"] == []
