"""Runtime registration over HTTP: sites, nodes and links added, refused with field and value,
owned by a provider's tenant, retired; the roles each route admits."""

from __future__ import annotations

from typing import Any

from api_support import Api

SITE: dict[str, Any] = {"id": "edge-new", "tier": "edge", "region": "cn-south"}
NODE: dict[str, Any] = {
    "id": "edge-new-1",
    "site": "edge-new",
    "cpu_cores": 16,
    "mem_gib": 64,
    "cpu_peak_gflops": {"fp64": 1000, "fp32": 2000},
}
LINK: dict[str, Any] = {
    "a": "term-futian",
    "b": "edge-new",
    "bandwidth_mbps": 10000,
    "latency_ms": 1,
}


def _register(api: Api, who: str = "admin") -> None:
    for path, body in (("/v1/sites", SITE), ("/v1/nodes", NODE), ("/v1/links", LINK)):
        response = api.call(who, "POST", path, json=body)
        assert response.status_code == 201, response.text


def test_an_admin_registers_a_site_a_node_and_a_link_and_they_are_live(api: Api) -> None:
    _register(api)
    node = api.call("alice", "GET", "/v1/nodes/edge-new-1").json()
    assert node["state"] == "up"
    assert node["site_id"] == "edge-new"
    links = {link["id"] for link in api.call("alice", "GET", "/v1/links").json()}
    assert "term-futian--edge-new" in links
    changes = api.call("ops", "GET", "/v1/topology/changes").json()
    assert [(c["version"], c["kind"], c["id"], c["who"]) for c in changes] == [
        (1, "site", "edge-new", "admin"),
        (2, "node", "edge-new-1", "admin"),
        (3, "link", "term-futian--edge-new", "admin"),
    ]
    assert api.call("ops", "GET", "/v1/topology/changes?after_version=2").json()[0]["version"] == 3
    audit = [e["action"] for e in api.call("admin", "GET", "/v1/audit").json()]
    assert {"site.register", "node.register", "link.register"} <= set(audit)


def test_a_record_that_does_not_fit_is_a_422_naming_field_and_value(api: Api) -> None:
    response = api.call("admin", "POST", "/v1/nodes", json={**NODE, "site": "nowhere"})
    assert response.status_code == 422
    problem = response.json()
    assert (problem["field"], problem["value"]) == ("site", "nowhere")
    assert "nowhere" in problem["detail"]
    response = api.call(
        "admin", "POST", "/v1/nodes", json={**NODE, "site": "edge-futian", "mem_gib": -4}
    )
    assert response.status_code == 422
    assert (response.json()["field"], response.json()["value"]) == ("mem_gib", -4)
    assert api.call("ops", "GET", "/v1/topology/changes").json() == []


def test_a_provider_registers_nodes_of_its_own_tenant_and_retires_them(api: Api) -> None:
    node = {**NODE, "site": "edge-futian"}
    other = api.call("prov", "POST", "/v1/nodes", json={**node, "owner": "globex"})
    assert other.status_code == 403
    made = api.call("prov", "POST", "/v1/nodes?enrol_ttl_s=600", json=node)
    assert made.status_code == 201, made.text
    assert made.json()["body"]["owner"] == "acme-compute"
    assert made.json()["enrol_token"].startswith("swe_")
    assert api.call("alice", "GET", "/v1/nodes/edge-new-1").json()["owner"] == "acme-compute"
    assert api.call("alice", "POST", "/v1/nodes", json={**node, "id": "x-1"}).status_code == 403
    foreign = api.call("prov", "POST", "/v1/nodes/onsite-futian-cbd-mec-1/retire", json={})
    assert foreign.status_code == 403
    retired = api.call("prov", "POST", "/v1/nodes/edge-new-1/retire", json={"reason": "sold"})
    assert retired.status_code == 200, retired.text
    assert retired.json() == {"id": "edge-new-1", "state": "retired", "moving": 0}
    again = api.call("admin", "POST", "/v1/nodes/edge-new-1/retire")
    assert again.status_code == 409
    assert api.call("admin", "POST", "/v1/nodes/ghost-1/retire").status_code == 404
    assert api.call("admin", "POST", "/v1/nodes/edge-new-1/up").status_code == 409
    assert api.call("alice", "GET", "/v1/nodes/edge-new-1").json()["state"] == "retired"


def test_a_service_with_instances_joins_the_catalogue(api: Api) -> None:
    _register(api)
    service: dict[str, Any] = {"id": "cs-new", "name": "new service"}
    service["instances"] = [{"id": "csci-new-1", "node": "edge-new-1"}]
    made = api.call("admin", "POST", "/v1/services", json=service)
    assert made.status_code == 201, made.text
    assert made.json()["version"] == 4
    shown = api.call("alice", "GET", "/v1/services/cs-new").json()
    assert [i["node_id"] for i in shown["instances"]] == ["edge-new-1"]
    again = api.call("admin", "POST", "/v1/services", json=service)  # a retry: the same change
    assert (again.status_code, again.json()["version"]) == (201, 4)
    other = api.call("admin", "POST", "/v1/services", json={**service, "name": "another"})
    assert (other.status_code, other.json()["field"]) == (422, "id")
    ghost = {"id": "cs-ghost", "instances": [{"id": "csci-g", "node": "ghost-1"}]}
    refused = api.call("admin", "POST", "/v1/services", json=ghost)
    assert refused.status_code == 422
    assert refused.json()["field"] == "instances[0].node"
    foreign = {"id": "cs-foreign", "instances": [{"id": "csci-f", "node": "edge-new-1"}]}
    assert api.call("prov", "POST", "/v1/services", json=foreign).status_code == 403


def test_a_provider_drains_takes_down_and_brings_up_its_own_nodes_and_no_other(api: Api) -> None:
    made = api.call("prov", "POST", "/v1/nodes", json={**NODE, "site": "edge-futian"})
    assert made.status_code == 201, made.text  # owned by its tenant, not in its node list
    own = "/v1/nodes/edge-new-1"
    drained = api.call("prov", "POST", f"{own}/drain", json={"reason": "maintenance"})
    assert drained.status_code == 200, drained.text
    assert drained.json()["state"] == "draining"
    assert api.call("alice", "GET", own).json()["state"] == "draining"
    down = api.call("prov", "POST", f"{own}/down", json={"reason": "power"})
    assert down.status_code == 200, down.text
    assert api.call("prov", "POST", f"{own}/up").status_code == 200
    assert api.call("alice", "GET", own).json()["state"] == "up"
    assert api.call("prov", "GET", f"{own}/metrics").status_code == 200
    foreign = "/v1/nodes/onsite-futian-cbd-mec-1"  # the operator's
    for verb, body in (("drain", {"reason": "x"}), ("down", {"reason": "x"}), ("retire", {})):
        refused = api.call("prov", "POST", f"{foreign}/{verb}", json=body)
        assert refused.status_code == 403, (verb, refused.text)
        assert "does not keep node onsite-futian-cbd-mec-1" in refused.json()["detail"]
    assert api.call("alice", "GET", foreign).json()["state"] == "up"
    consumer = api.call("alice", "POST", f"{own}/drain", json={"reason": "x"})
    assert consumer.status_code == 403


def test_a_task_naming_a_service_is_placed_on_an_instance_and_the_task_names_it(api: Api) -> None:
    _register(api)
    service = {"id": "cs-new", "instances": [{"id": "csci-new-1", "node": "edge-new-1"}]}
    assert api.call("admin", "POST", "/v1/services", json=service).status_code == 201
    task = {"work_gflop": 1.0, "ingress_site": "term-futian", "service_id": "cs-new"}
    created = api.call("alice", "POST", "/v1/tasks", json=task)
    assert created.status_code == 201, created.text
    placement = created.json()["placement"]
    assert (placement["node_id"], placement["instance_id"]) == ("edge-new-1", "csci-new-1")
    shown = api.call("alice", "GET", f"/v1/tasks/{created.json()['id']}").json()
    assert shown["placement"]["instance_id"] == "csci-new-1"
    typo = api.call("alice", "POST", "/v1/tasks", json={**task, "service_id": "cs-nwe"}).json()
    assert typo["state"] == "rejected"
    assert "service_id: 'cs-nwe' names no service of the catalogue" in typo["reason"]
