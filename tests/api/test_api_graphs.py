"""Task graphs through the API: dry run, the first stage submitted, refusals, scope, cancel.

The app's nodes have no agents here, so a submitted stage stays placed and never completes:
what runs a graph to its end is in ``tests/execution/test_execution_graph.py``.
"""

from __future__ import annotations

from typing import Any

from api_support import INGRESS, Api

GRAPH: dict[str, Any] = {
    "id": "video",
    "ingress_site": INGRESS,
    "stages": [
        {"id": "decode", "work_gflop": 20, "cpu_cores": 1, "input_mb": 4},
        {"id": "detect", "work_gflop": 200, "cpu_cores": 2},
        {"id": "aggregate", "work_gflop": 5, "result_mb": 0.2},
    ],
    "edges": [
        {"src": "decode", "dst": "detect", "data_mb": 2},
        {"src": "detect", "dst": "aggregate", "reduction_ratio": 0.1},
    ],
}


def _by_stage(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {stage["stage"]: stage for stage in doc["stages"]}


def test_a_dry_run_shows_the_placement_and_keeps_nothing(api: Api) -> None:
    planned = api.call("alice", "POST", "/v1/graphs", params={"dry_run": "true"}, json=GRAPH)
    assert planned.status_code == 200, planned.text
    doc = planned.json()
    assert doc["state"] == "planned"
    assert doc["estimated_makespan_ms"] > 0
    stages = _by_stage(doc)
    assert set(stages) == {"decode", "detect", "aggregate"}
    for stage in stages.values():
        assert stage["planned_node"]
        assert stage["task_id"] is None
    detect, decode = stages["detect"], stages["decode"]
    assert detect["estimated_start_ms"] >= decode["estimated_finish_ms"]
    assert api.call("alice", "GET", "/v1/graphs").json() == []


def test_a_graph_starts_its_entry_stage_on_the_planned_site_and_cancel_stops_the_rest(
    api: Api,
) -> None:
    created = api.call("alice", "POST", "/v1/graphs", json=GRAPH)
    assert created.status_code == 201, created.text
    doc = created.json()
    assert doc["name"] == "video"
    assert doc["id"].startswith("video-")
    assert doc["state"] == "running"
    stages = _by_stage(doc)
    decode = stages["decode"]
    assert decode["task_id"] is not None
    assert stages["detect"]["state"] == "waiting"
    assert stages["aggregate"]["task_id"] is None
    task = api.call("alice", "GET", f"/v1/tasks/{decode['task_id']}").json()
    assert task["tenant"] == "acme"
    assert task["state"] in {"scheduled", "running"}
    assert task["placement"]["node_id"] == decode["node_id"]
    node = api.call("alice", "GET", f"/v1/nodes/{decode['node_id']}").json()
    assert node["site_id"] == decode["planned_site"]
    assert task["spec"]["ingress_site"] == INGRESS
    assert task["spec"]["data_in_mb"] == 4
    assert api.call("bob", "GET", f"/v1/graphs/{doc['id']}").status_code == 404
    assert api.call("bob", "DELETE", f"/v1/graphs/{doc['id']}").status_code == 404
    assert [g["id"] for g in api.call("alice", "GET", "/v1/graphs").json()] == [doc["id"]]

    cancelled = api.call("alice", "DELETE", f"/v1/graphs/{doc['id']}")
    assert cancelled.status_code == 200, cancelled.text
    after = cancelled.json()
    assert after["state"] == "cancelled"
    assert {s["state"] for s in after["stages"]} == {"cancelled"}
    assert _by_stage(after)["detect"]["task_id"] is None
    task = api.call("alice", "GET", f"/v1/tasks/{decode['task_id']}").json()
    assert task["state"] == "cancelled"
    again = api.call("alice", "DELETE", f"/v1/graphs/{doc['id']}")
    assert again.status_code == 409


def test_a_stage_no_node_can_take_is_a_422_naming_the_stage(api: Api) -> None:
    huge = {**GRAPH, "stages": [*GRAPH["stages"][:1], {"id": "detect", "work_gflop": 1,
            "cpu_cores": 100_000}, GRAPH["stages"][2]]}  # fmt: skip
    refused = api.call("alice", "POST", "/v1/graphs", json=huge)
    assert refused.status_code == 422, refused.text
    assert "'detect'" in refused.json()["detail"]
    assert refused.json()["errors"][0]["path"] == "body.stages[1]"
    assert api.call("alice", "GET", "/v1/graphs").json() == []


def test_bad_graphs_name_the_field(api: Api) -> None:
    nowhere = api.call("alice", "POST", "/v1/graphs", json={**GRAPH, "ingress_site": "mars"})
    assert nowhere.status_code == 422
    assert "body.ingress_site" in nowhere.text
    loose = {**GRAPH, "edges": [{"src": "decode", "dst": "track"}]}
    dangling = api.call("alice", "POST", "/v1/graphs", json=loose)
    assert dangling.status_code == 422
    assert "edges[0].dst" in dangling.text
    assert "'track'" in dangling.text
    code = {**GRAPH, "stages": [{**GRAPH["stages"][0], "artefact": "0" * 64}, *GRAPH["stages"][1:]]}
    missing = api.call("alice", "POST", "/v1/graphs", json=code)
    assert missing.status_code == 422
    assert "body.stages[0].artefact" in missing.text
    entry_only = {**GRAPH, "stages": [{**GRAPH["stages"][0], "entry": "m:f"}, *GRAPH["stages"][1:]]}
    assert api.call("alice", "POST", "/v1/graphs", json=entry_only).status_code == 422


def test_a_graph_runs_as_the_callers_tenant(api: Api) -> None:
    other = api.call("alice", "POST", "/v1/graphs", json={**GRAPH, "tenant": "globex"})
    assert other.status_code == 422
    assert "body.tenant" in other.text
    own = api.call("alice", "POST", "/v1/graphs", json={**GRAPH, "tenant": "acme"})
    assert own.status_code == 201, own.text
    assert own.json()["tenant"] == "acme"
