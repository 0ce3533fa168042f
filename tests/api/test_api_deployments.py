"""Deployments through the API: replicas on distinct sites, scoped reads, bad input, delete."""

from __future__ import annotations

from typing import Any

from api_support import CPU_TASK, Api

BODY: dict[str, Any] = {
    "name": "web",
    "template": CPU_TASK,
    "min_replicas": 2,
    "max_replicas": 4,
    "target_utilisation": 0.5,
}


def test_a_deployment_places_its_minimum_on_distinct_sites(api: Api) -> None:
    created = api.call("alice", "POST", "/v1/deployments", json=BODY)
    assert created.status_code == 201, created.text
    doc = created.json()
    assert doc["desired"] == 2
    assert doc["current"] == 2
    sites = [r["site_id"] for r in doc["replicas"]]
    assert None not in sites
    assert len(set(sites)) == 2
    for replica in doc["replicas"]:
        task = api.call("alice", "GET", f"/v1/tasks/{replica['task_id']}").json()
        assert task["tenant"] == "acme"
    listed = api.call("alice", "GET", "/v1/deployments").json()
    assert [d["name"] for d in listed] == ["web"]
    one = api.call("alice", "GET", "/v1/deployments/web").json()
    assert one["last_decision"]["desired"] == 2
    assert one["last_decision"]["reason"]


def test_another_tenant_sees_nothing_and_cannot_take_the_name(api: Api) -> None:
    assert api.call("alice", "POST", "/v1/deployments", json=BODY).status_code == 201
    assert api.call("bob", "GET", "/v1/deployments").json() == []
    assert api.call("bob", "GET", "/v1/deployments/web").status_code == 404
    assert api.call("bob", "DELETE", "/v1/deployments/web").status_code == 404
    assert api.call("bob", "POST", "/v1/deployments", json=BODY).status_code == 409


def test_delete_cancels_the_replicas(api: Api) -> None:
    doc = api.call("alice", "POST", "/v1/deployments", json=BODY).json()
    gone = api.call("alice", "DELETE", "/v1/deployments/web")
    assert gone.json() == {"cancelled": 2}
    for replica in doc["replicas"]:
        task = api.call("alice", "GET", f"/v1/tasks/{replica['task_id']}").json()
        assert task["state"] == "cancelled"
    assert api.call("alice", "GET", "/v1/deployments/web").status_code == 404


def test_bad_input_names_the_field(api: Api) -> None:
    bad_name = api.call("alice", "POST", "/v1/deployments", json={**BODY, "name": "Web_1"})
    assert bad_name.status_code == 422
    assert "name" in bad_name.text
    bounds = api.call("alice", "POST", "/v1/deployments", json={**BODY, "min_replicas": 5})
    assert bounds.status_code == 422
    assert "max_replicas" in bounds.text
    no_work = api.call("alice", "POST", "/v1/deployments", json={**BODY, "template": {}})
    assert no_work.status_code == 422
    assert "work_gflop" in no_work.text


def test_a_template_naming_a_missing_artefact_is_refused(api: Api) -> None:
    template = {**CPU_TASK, "artefact": "0" * 64}
    refused = api.call("alice", "POST", "/v1/deployments", json={**BODY, "template": template})
    assert refused.status_code == 422
    assert "body.template.artefact" in refused.text
    assert api.call("alice", "GET", "/v1/deployments").json() == []
