"""Templates through the API: apply, re-apply unchanged, a dry run and an update of the
difference, status, scoped reads, bad input naming the field, delete; a template's
deployments are read but not removed through the deployments routes."""

from __future__ import annotations

import copy
from typing import Any

from api_support import CPU_TASK, INGRESS, Api

TASK = {k: v for k, v in CPU_TASK.items() if k != "ingress_site"}
SHOP: dict[str, Any] = {
    "version": 1,
    "name": "shop",
    "components": {
        "front": {"task": TASK, "replicas": 2},
        "back": {"task": TASK, "autoscale": {"min_replicas": 1, "max_replicas": 3}},
    },
    "connections": [
        {"from": "users", "to": "front", "ingress_site": INGRESS, "latency_budget_ms": 500.0},
        {"from": "front", "to": "back", "latency_budget_ms": 500.0, "bandwidth_mbps": 10.0},
    ],
}


def test_apply_reapply_update_and_delete(api: Api) -> None:
    made = api.call("alice", "POST", "/v1/templates", json=SHOP)
    assert made.status_code == 201, made.text
    doc = made.json()
    assert doc["applied"] is True
    assert doc["diff"] == {
        "added": ["back", "front"],
        "changed": [],
        "removed": [],
        "unchanged": [],
    }
    status = doc["template"]
    assert (status["revision"], status["desired"]) == (1, 3)
    front = api.call("alice", "GET", "/v1/deployments/shop/front").json()
    assert (front["current"], front["tenant"]) == (2, "acme")

    again = api.call("alice", "POST", "/v1/templates", json=SHOP)
    assert again.status_code == 200
    assert again.json()["applied"] is False
    assert again.json()["diff"]["unchanged"] == ["back", "front"]
    assert again.json()["template"]["revision"] == 1

    update = copy.deepcopy(SHOP)
    update["components"]["front"]["replicas"] = 1
    dry = api.call("alice", "POST", "/v1/templates?dry_run=true", json=update)
    assert dry.status_code == 200
    assert dry.json()["diff"]["changed"] == ["front"]
    assert api.call("alice", "GET", "/v1/deployments/shop/front").json()["desired"] == 2
    done = api.call("alice", "POST", "/v1/templates", json=update)
    assert done.status_code == 201
    assert done.json()["diff"] == dry.json()["diff"]
    assert api.call("alice", "GET", "/v1/deployments/shop/front").json()["current"] == 1

    shown = api.call("alice", "GET", "/v1/templates/shop").json()
    assert shown["revision"] == 2
    assert [(c["component"], c["desired"]) for c in shown["components"]] == [
        ("back", 1),
        ("front", 1),
    ]
    assert shown["document"]["components"]["front"]["replicas"] == 1
    assert [t["name"] for t in api.call("alice", "GET", "/v1/templates").json()] == ["shop"]

    refused = api.call("alice", "DELETE", "/v1/deployments/shop/front")
    assert refused.status_code == 409
    assert "template 'shop'" in refused.text
    gone = api.call("alice", "DELETE", "/v1/templates/shop")
    assert gone.json() == {"cancelled": 2}
    assert api.call("alice", "GET", "/v1/deployments").json() == []
    assert api.call("alice", "GET", "/v1/templates/shop").status_code == 404


def test_another_tenant_sees_nothing_and_cannot_take_the_name(api: Api) -> None:
    assert api.call("alice", "POST", "/v1/templates", json=SHOP).status_code == 201
    assert api.call("bob", "GET", "/v1/templates").json() == []
    assert api.call("bob", "GET", "/v1/templates/shop").status_code == 404
    assert api.call("bob", "DELETE", "/v1/templates/shop").status_code == 404
    assert api.call("bob", "POST", "/v1/templates", json=SHOP).status_code == 409
    assert [t["name"] for t in api.call("admin", "GET", "/v1/templates").json()] == ["shop"]


def test_bad_input_names_the_field_and_value(api: Api) -> None:
    bad = copy.deepcopy(SHOP)
    bad["components"]["front"]["replicas"] = 0
    refused = api.call("alice", "POST", "/v1/templates", json=bad)
    assert refused.status_code == 422
    assert refused.json()["field"] == "body.components.front.replicas"
    assert refused.json()["value"] == 0
    bad = copy.deepcopy(SHOP)
    bad["components"]["back"]["policies"] = {"residency": ["cn-"]}
    refused = api.call("alice", "POST", "/v1/templates", json=bad)
    assert refused.status_code == 422
    assert "body.components.back: " in refused.text
    bad = copy.deepcopy(SHOP)
    bad["components"]["back"]["task"] = {**TASK, "artefact": "0" * 64}
    refused = api.call("alice", "POST", "/v1/templates", json=bad)
    assert refused.status_code == 422
    assert "body.components.back.task.artefact" in refused.text
    bad = copy.deepcopy(SHOP)
    bad["components"]["back"]["task"] = {**TASK, "datasets": ["nowhere"]}
    refused = api.call("alice", "POST", "/v1/templates", json=bad)
    assert refused.status_code == 422
    assert "body.components.back.task.datasets[0]: unknown dataset 'nowhere'" in refused.text
    assert api.call("alice", "GET", "/v1/deployments").json() == []
    slash = {"name": "shop/front", "template": CPU_TASK}
    refused = api.call("alice", "POST", "/v1/deployments", json=slash)
    assert refused.status_code == 422
    assert "template's component" in refused.text
