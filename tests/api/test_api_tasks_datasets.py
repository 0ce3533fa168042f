"""Tasks naming input datasets over the API: an id the live topology does not hold is refused."""

from __future__ import annotations

from api_support import CPU_TASK, Api


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
