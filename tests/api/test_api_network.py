"""The live topology, scenarios, twin runs, principals, audit and metrics over the API."""

from __future__ import annotations

import time

from api_support import CPU_TASK, Api

from suanwang.scenario import builtin_text


def test_topology_resources(api: Api) -> None:
    sites = api.call("alice", "GET", "/v1/sites").json()
    assert {"term-futian", "edge-futian"} <= {s["id"] for s in sites}
    edges = api.call("alice", "GET", "/v1/sites", params={"tier": "edge"}).json()
    assert edges
    assert {s["tier"] for s in edges} == {"edge"}
    site = api.call("alice", "GET", "/v1/sites/edge-futian").json()
    assert site["nodes"] == len(
        api.call("alice", "GET", "/v1/nodes", params={"site_id": "edge-futian"}).json()
    )
    nodes = api.call("alice", "GET", "/v1/nodes", params={"limit": 3, "offset": 1}).json()
    assert len(nodes) == 3
    links = api.call("alice", "GET", "/v1/links").json()
    link = api.call("alice", "GET", f"/v1/links/{links[0]['id']}").json()
    assert link == links[0]
    services = api.call("alice", "GET", "/v1/services").json()
    one = api.call("alice", "GET", f"/v1/services/{services[0]['id']}").json()
    assert one == services[0]
    for path in ("/v1/sites/x", "/v1/nodes/x", "/v1/links/x", "/v1/services/x"):
        assert api.call("alice", "GET", path).status_code == 404


def test_a_node_down_moves_its_tasks(api: Api) -> None:
    task = api.submit("alice")
    node = task["placement"]["node_id"]
    down = api.call("ops", "POST", f"/v1/nodes/{node}/down", json={"reason": "power cut"}).json()
    assert down == {"id": node, "state": "down", "replaced_tasks": 1}
    moved = api.call("alice", "GET", f"/v1/tasks/{task['id']}").json()
    assert moved["placement"]["node_id"] != node
    assert "power cut" in moved["history"][-2]["reason"]
    assert api.call("ops", "GET", "/v1/nodes", params={"state": "down"}).json()[0]["id"] == node
    assert api.call("ops", "POST", f"/v1/nodes/{node}/up").json()["state"] == "up"
    assert api.call("ops", "POST", "/v1/nodes/x/down", json={}).status_code == 404


def test_a_drain_moves_services_and_takes_no_new_work(api: Api) -> None:
    service = api.submit("alice", {**CPU_TASK, "long_running": True})
    assert service["spec"]["long_running"] is True
    node = service["placement"]["node_id"]
    drained = api.call("ops", "POST", f"/v1/nodes/{node}/drain", json={"reason": "patching"})
    assert drained.json() == {"id": node, "state": "draining", "replaced_tasks": 1}
    moved = api.call("alice", "GET", f"/v1/tasks/{service['id']}").json()
    assert moved["placement"]["node_id"] != node
    assert "draining: patching" in moved["history"][-2]["reason"]
    listed = api.call("ops", "GET", "/v1/nodes", params={"state": "draining"}).json()
    assert [n["id"] for n in listed] == [node]
    assert api.submit("alice")["placement"]["node_id"] != node
    assert api.call("ops", "POST", f"/v1/nodes/{node}/up").json()["state"] == "up"
    assert api.call("ops", "GET", f"/v1/nodes/{node}").json()["state"] == "up"
    api.call("ops", "POST", f"/v1/nodes/{node}/down", json={"reason": "power cut"})
    refused = api.call("ops", "POST", f"/v1/nodes/{node}/drain", json={})
    assert refused.status_code == 409
    assert "is down" in refused.json()["detail"]
    assert api.call("ops", "POST", "/v1/nodes/x/drain", json={}).status_code == 404


def test_a_link_down_and_up(api: Api) -> None:
    task = api.submit("alice")
    link = task["placement"]["segments"][0]
    down = api.call("ops", "POST", f"/v1/links/{link}/down", json={"reason": "fibre cut"}).json()
    assert down["replaced_tasks"] == 1
    assert api.call("ops", "GET", f"/v1/links/{link}").json()["state"] == "down"
    assert api.call("ops", "POST", f"/v1/links/{link}/up").json()["state"] == "up"


def test_load_a_builtin_then_an_upload(api: Api) -> None:
    listed = api.call("ops", "GET", "/v1/scenarios").json()
    assert listed["live"] == "metro-edge"
    assert "campus" in {b["name"] for b in listed["builtins"]}
    assert {"cats-joint", "nearest", "green"} <= set(listed["profiles"])
    task = api.submit("alice")
    refused = api.call("ops", "POST", "/v1/scenarios/live", json={"builtin": "campus"})
    assert refused.status_code == 409
    loaded = api.call(
        "ops", "POST", "/v1/scenarios/live", json={"builtin": "campus", "cancel_active": True}
    ).json()
    assert (loaded["live"], loaded["cancelled_tasks"]) == ("campus", 1)
    assert api.call("alice", "GET", f"/v1/tasks/{task['id']}").json()["state"] == "cancelled"
    assert api.client.get("/health").json()["scenario"] == "campus"
    text = builtin_text("metro-edge")
    uploaded = api.call("ops", "POST", "/v1/scenarios/live", json={"text": text})
    assert uploaded.json()["live"] == "metro-edge"
    assert api.submit("alice", CPU_TASK)["state"] == "scheduled"


def test_bad_scenarios_are_one_line_422(api: Api) -> None:
    broken = api.call("ops", "POST", "/v1/scenarios/live", json={"text": "version: 1\nsites: 7\n"})
    assert broken.status_code == 422
    assert "\n" not in broken.json()["detail"]
    unknown = api.call("ops", "POST", "/v1/scenarios/live", json={"builtin": "atlantis"})
    assert unknown.status_code == 422
    both = api.call("ops", "POST", "/v1/scenarios/live", json={"builtin": "campus", "text": "x"})
    assert both.status_code == 422


def test_a_twin_run_in_the_background(api: Api) -> None:
    body = {"duration_s": 5, "max_tasks": 50, "seed": 3}
    started = api.call("alice", "POST", "/v1/twin-runs", json=body)
    assert started.status_code == 202
    run_id = started.json()["id"]
    run = started.json()
    deadline = time.monotonic() + 60
    while run["state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        run = api.call("alice", "GET", f"/v1/twin-runs/{run_id}").json()
    assert run["state"] == "done", run
    assert run["summary"]["scenario"] == "metro-edge"
    assert "summary.json" in run["files"]
    file = api.call("alice", "GET", f"/v1/twin-runs/{run_id}/files/summary.json")
    assert file.json()["scenario"] == "metro-edge"
    assert api.call("bob", "GET", f"/v1/twin-runs/{run_id}").status_code == 404
    assert [r["id"] for r in api.call("alice", "GET", "/v1/twin-runs").json()] == [run_id]
    assert api.call("bob", "GET", "/v1/twin-runs").json() == []
    assert api.call("alice", "GET", f"/v1/twin-runs/{run_id}/files/../x").status_code == 404
    bad = api.call("alice", "POST", "/v1/twin-runs", json={"profile": "/etc/passwd"})
    assert bad.status_code == 422


def test_principals_tokens_and_the_audit_trail(api: Api) -> None:
    created = api.call(
        "admin",
        "POST",
        "/v1/principals",
        json={"id": "carol", "tenant": "initech", "roles": ["consumer"]},
    )
    assert created.status_code == 201
    assert api.call("admin", "POST", "/v1/principals", json=created.json()).status_code == 409
    token = api.call("admin", "POST", "/v1/principals/carol/tokens").json()["token"]
    assert api.call("admin", "POST", "/v1/principals/nobody/tokens").status_code == 404
    me = api.client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["id"], me["tenant"]) == ("carol", "initech")
    tenants = {p["tenant"] for p in api.call("admin", "GET", "/v1/principals").json()}
    assert "initech" in tenants
    task = api.submit("alice")
    trail = api.call("admin", "GET", "/v1/audit").json()
    assert [(e["who"], e["action"]) for e in trail] == [
        ("admin", "principal.create"),
        ("admin", "token.create"),
        ("alice", "task.submit"),
    ]
    assert trail[-1]["target"] == f"task:{task['id']}"
    assert trail[-1]["at_s"] <= time.time()
    later = api.call("admin", "GET", "/v1/audit", params={"after_seq": trail[1]["seq"]}).json()
    assert later == trail[2:]


def test_prometheus_metrics(api: Api) -> None:
    api.submit("alice")
    api.submit("alice", {**CPU_TASK, "cpu_cores": 1e5})
    text = api.call("ops", "GET", "/metrics").text
    assert 'suanwang_decisions_total{cause="placed"} 1.0' in text
    assert 'suanwang_decisions_total{cause="rejected:' in text
    assert "suanwang_decision_seconds_count 2.0" in text
    assert "suanwang_queue_depth" in text
    assert 'suanwang_nodes{state="up"}' in text
