"""Tasks over the API: submission, idempotency, reads, listing, cancel, explain, errors."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from api_support import CPU_TASK, INGRESS, Api, make_settings, seed_principals
from fastapi.testclient import TestClient

from suanwang.api import create_app
from suanwang.storage import open_store


def test_submit_stores_the_task_before_answering(api: Api) -> None:
    response = api.call("alice", "POST", "/v1/tasks", json=CPU_TASK)
    assert response.status_code == 201
    task = response.json()
    assert response.headers["location"] == f"/v1/tasks/{task['id']}"
    assert task["tenant"] == "acme"
    assert task["state"] == "scheduled"
    assert task["placement"]["node_id"]
    assert [step["to_state"] for step in task["history"]] == ["pending", "scheduled"]
    with open_store(api.settings.resolved_database_url()) as stores:
        stored = stores.tasks.get(task["id"])
    assert stored is not None
    assert stored.state.value == "scheduled"


def test_a_catalogue_type_fills_the_spec(api: Api) -> None:
    body = {"task_type": "video-analytics-frame", "ingress_site": INGRESS}
    task = api.submit("alice", body)
    assert task["spec"]["accelerator"]["kind"] == "gpu"
    assert task["spec"]["latency_budget_ms"] == 100.0
    overridden = api.submit("alice", {**body, "latency_budget_ms": 250.0})
    assert overridden["spec"]["latency_budget_ms"] == 250.0


def test_one_idempotency_key_never_makes_two_tasks(api: Api) -> None:
    key = {"Idempotency-Key": "order-42"}
    first = api.call("alice", "POST", "/v1/tasks", json=CPU_TASK, headers=key)
    again = api.call("alice", "POST", "/v1/tasks", json=CPU_TASK, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other_spec = api.call(
        "alice", "POST", "/v1/tasks", json={**CPU_TASK, "work_gflop": 9.0}, headers=key
    )
    assert other_spec.status_code == 409
    # Keys belong to a tenant: another tenant's identical key is another task.
    bob = api.call("bob", "POST", "/v1/tasks", json=CPU_TASK, headers=key)
    assert bob.status_code == 201
    assert bob.json()["id"] != first.json()["id"]
    listed = api.call("admin", "GET", "/v1/tasks").json()["items"]
    assert len(listed) == 2


def test_an_impossible_task_is_rejected_with_the_reason(api: Api) -> None:
    task = api.submit("alice", {**CPU_TASK, "cpu_cores": 100_000.0})
    assert task["state"] == "rejected"
    assert task["reason"]


def test_get_and_list_with_filters_and_pages(api: Api) -> None:
    ids = [api.submit("alice", {**CPU_TASK, "task_type": f"t{i % 2}"})["id"] for i in range(5)]
    assert api.call("alice", "GET", f"/v1/tasks/{ids[0]}").json()["id"] == ids[0]
    seen, cursor = [], None
    for _ in range(10):
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.call("alice", "GET", "/v1/tasks", params=params).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    typed = api.call("alice", "GET", "/v1/tasks", params={"task_type": "t1"}).json()["items"]
    assert [t["id"] for t in typed] == ids[1::2]
    scheduled = api.call("alice", "GET", "/v1/tasks", params={"state": "scheduled"}).json()
    assert len(scheduled["items"]) == 5
    assert (
        api.call("alice", "GET", "/v1/tasks", params={"state": "completed"}).json()["items"] == []
    )


def test_cancel_then_cancel_again(api: Api) -> None:
    task = api.submit("alice")
    cancelled = api.call("alice", "POST", f"/v1/tasks/{task['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["reason"] == "cancelled by alice"
    again = api.call("alice", "POST", f"/v1/tasks/{task['id']}/cancel")
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert api.call("alice", "POST", "/v1/tasks/nope/cancel").status_code == 404


def test_explain_says_where_and_why_not(api: Api) -> None:
    task = api.submit("alice", {"task_type": "video-analytics-frame", "ingress_site": INGRESS})
    cpu_node = "edge-futian-mec-1"
    found = api.call(
        "alice", "GET", f"/v1/tasks/{task['id']}/explain", params={"node_id": cpu_node}
    ).json()
    assert found["placeable"] is True
    assert found["placement"]["task_id"] == task["id"]
    # The type's service (CS-ID) runs on GPU nodes only: the CPU node has no instance of it.
    assert found["rejected_by"]["service-instances"] > 0
    assert found["why_not"] == {
        "node_id": cpu_node,
        "plugin": "service-instances",
        "reason": found["why_not"]["reason"],
    }
    assert "no instance of service cs-video" in found["why_not"]["reason"]
    unknown = api.call("alice", "GET", f"/v1/tasks/{task['id']}/explain", params={"node_id": "x"})
    assert unknown.status_code == 404
    # Explaining reserves nothing: the placements are the task's own only.
    held = api.call("alice", "GET", "/v1/placements").json()
    assert [t["id"] for t in held] == [task["id"]]


def test_explain_a_placed_task_says_why_here(api: Api) -> None:
    task = api.submit("alice", {"task_type": "video-analytics-frame", "ingress_site": INGRESS})
    own = task["placement"]["node_id"]
    found = api.call(
        "alice", "GET", f"/v1/tasks/{task['id']}/explain", params={"node_id": own}
    ).json()
    # Its own hold is left out: its node is no fuller than before it came.
    assert found["placed_on"] == own
    assert found["why_not"] == {"node_id": own, "plugin": "", "reason": "passed every filter"}
    here = found["why_here"]
    assert here["chosen"]["node_id"] == found["node_id"]
    parts = here["chosen"]["scores"]
    assert parts
    assert sum(p["weighted"] for p in parts) == pytest.approx(here["chosen"]["score"])
    assert {"network_ms", "queueing_ms", "compute_ms", "cost"} <= set(here["chosen"]["estimate"])
    scores = [here["chosen"]["score"]] + [a["score"] for a in here["alternatives"]]
    assert len(here["alternatives"]) <= 3
    if not here["kept"]:
        assert scores == sorted(scores, reverse=True)
    groups = found["refusals"]
    assert sum(g["count"] for g in groups) == sum(found["rejected_by"].values())
    instances = [g for g in groups if g["plugin"] == "service-instances"]
    assert instances
    assert all(len(g["closest"]) <= 3 for g in groups)


def test_explain_a_refused_task(api: Api) -> None:
    task = api.submit("alice", {**CPU_TASK, "ingress_site": "nowhere"})
    assert task["state"] == "rejected"
    found = api.call("alice", "GET", f"/v1/tasks/{task['id']}/explain").json()
    assert found["placeable"] is False
    assert found["code"] == "error"
    assert "nowhere" in found["refusal"]


def test_placements_filter_by_node(api: Api) -> None:
    task = api.submit("alice")
    node = task["placement"]["node_id"]
    on_node = api.call("alice", "GET", "/v1/placements", params={"node_id": node}).json()
    assert [t["id"] for t in on_node] == [task["id"]]
    assert api.call("alice", "GET", "/v1/placements", params={"node_id": "x"}).json() == []


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({**CPU_TASK, "cpu_cores": -1}, "body.cpu_cores"),
        ({**CPU_TASK, "accelerator": {"kind": "tpu"}}, "body.accelerator.kind"),
        ({**CPU_TASK, "residency": [""]}, "body.residency[0]"),
        ({**CPU_TASK, "surprise": 1}, "body.surprise"),
        ({"cpu_cores": 1}, "body.work_gflop"),
        ([], "body"),
    ],
)
def test_validation_errors_name_the_field(api: Api, body: object, path: str) -> None:
    response = api.call("alice", "POST", "/v1/tasks", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert path in [error["path"] for error in problem["errors"]]
    assert problem["detail"].startswith(path)


def test_non_finite_numbers_and_bad_json_are_4xx(api: Api) -> None:
    headers = {"content-type": "application/json"}
    for text in ('{"work_gflop": NaN}', '{"work_gflop": Infinity}', "{", '{"work_gflop": 1e999}'):
        response = api.call("alice", "POST", "/v1/tasks", content=text, headers=headers)
        assert response.status_code == 422, text


def test_over_large_bodies_get_413(api: Api) -> None:
    big = b'{"work_gflop": 1, "task_type": "' + b"x" * (2 << 20) + b'"}'
    response = api.call("alice", "POST", "/v1/tasks", content=big)
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_list_newest_first_with_search_and_a_total(api: Api) -> None:
    ids = [api.submit("alice", {**CPU_TASK, "task_type": f"t{i % 2}"})["id"] for i in range(5)]
    api.submit("bob", CPU_TASK)  # another tenant's: neither listed nor counted for alice
    seen, cursor, totals = [], None, set()
    for _ in range(10):
        params = {"limit": 2, "order": "newest", "include_total": True}
        page = api.call(
            "alice", "GET", "/v1/tasks", params=params | ({"cursor": cursor} if cursor else {})
        )
        assert page.status_code == 200, page.text
        seen += [t["id"] for t in page.json()["items"]]
        totals.add(page.json()["total"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert totals == {5}
    typed = {"order": "newest", "task_type": "t1", "include_total": True}
    page = api.call("alice", "GET", "/v1/tasks", params=typed).json()
    assert [t["id"] for t in page["items"]] == ids[1::2][::-1]
    assert page["total"] == 2
    # The total is only counted when asked for.
    assert api.call("alice", "GET", "/v1/tasks").json()["total"] is None
    prefix = {"id_prefix": ids[3][:12], "include_total": True}
    found = api.call("alice", "GET", "/v1/tasks", params=prefix).json()
    assert ([t["id"] for t in found["items"]], found["total"]) == ([ids[3]], 1)
    assert api.call("alice", "GET", "/v1/tasks", params={"order": "sideways"}).status_code == 422
    assert api.call("alice", "GET", "/v1/tasks", params={"id_prefix": ""}).status_code == 422


def test_bad_cursor_and_idempotency_key(api: Api) -> None:
    assert api.call("alice", "GET", "/v1/tasks", params={"cursor": "zzz"}).status_code == 400
    huge = base64.urlsafe_b64encode(b"t1:" + b"9" * 30).decode()
    assert api.call("alice", "GET", "/v1/tasks", params={"cursor": huge}).status_code == 400
    long_key = {"Idempotency-Key": "k" * 256}
    assert (
        api.call("alice", "POST", "/v1/tasks", json=CPU_TASK, headers=long_key).status_code == 422
    )


def test_a_served_network_places_nothing_on_nodes_without_an_agent(tmp_path: Path) -> None:
    # The default: live mode runs work only through agents, and metro-edge has none bound.
    settings = make_settings(tmp_path, require_agent=True)
    tokens = seed_principals(settings)
    with TestClient(create_app(settings)) as client:
        api = Api(client, settings, tokens)
        task = api.submit("alice", CPU_TASK)
        assert task["state"] == "pending"
        assert task["placement"] is None
        nodes = api.call("ops", "GET", "/v1/nodes").json()
        assert {node["state"] for node in nodes} == {"no-agent"}
