"""``GET /v1/load``: node and link load as the scheduler's ledger holds it."""

from __future__ import annotations

from api_support import CPU_TASK, Api


def test_load_follows_placements(api: Api) -> None:
    idle = api.call("alice", "GET", "/v1/load").json()
    nodes = api.call("alice", "GET", "/v1/nodes").json()
    links = api.call("alice", "GET", "/v1/links").json()
    assert idle["node_ids"] == [n["id"] for n in nodes]
    assert idle["link_ids"] == [k["id"] for k in links]
    assert idle["active_placements"] == 0
    assert not any(idle["cpu_utilisation"])
    assert not any(idle["link_utilisation"])

    # Data with a latency budget: the path's links reserve bandwidth to move it in time.
    body = {**CPU_TASK, "data_in_mb": 2.0, "latency_budget_ms": 1000.0, "cpu_cores": 2.0}
    task = api.submit("alice", body)
    placement = task["placement"]
    assert placement["reserved_bandwidth_mbps"] > 0
    assert placement["segments"]
    busy = api.call("alice", "GET", "/v1/load").json()
    assert busy["active_placements"] == 1
    node = busy["node_ids"].index(placement["node_id"])
    cpu = next(n["cpu_cores"] for n in nodes if n["id"] == placement["node_id"])
    assert busy["cpu_utilisation"][node] == round(2.0 / cpu, 4)
    shares = dict(zip(busy["link_ids"], busy["link_utilisation"], strict=True))
    assert {k for k, u in shares.items() if u > 0} == set(placement["segments"])
    for link in links:
        if link["id"] in placement["segments"]:
            expected = placement["reserved_bandwidth_mbps"] / link["bandwidth_mbps"]
            assert shares[link["id"]] == round(expected, 4)

    api.call("alice", "POST", f"/v1/tasks/{task['id']}/cancel")
    again = api.call("alice", "GET", "/v1/load").json()
    assert again["active_placements"] == 0
    assert again["cpu_utilisation"][node] == 0
    assert not any(again["link_utilisation"])


def test_load_needs_a_token(api: Api) -> None:
    assert api.call(None, "GET", "/v1/load").status_code == 401


def test_reserved_accelerators_per_kind_and_node(api: Api) -> None:
    nodes = api.call("alice", "GET", "/v1/nodes", params={"limit": 100_000}).json()
    idle = api.call("alice", "GET", "/v1/load").json()
    # Only the kinds some node has; every count starts at zero.
    kinds = {a["kind"] for n in nodes for a in n["accelerators"]}
    assert set(idle["accelerators_reserved"]) == kinds
    assert "gpu" in kinds
    for counts in idle["accelerators_reserved"].values():
        assert counts == [0] * len(nodes)

    gpu_task = {**CPU_TASK, "accelerator": {"kind": "gpu", "count": 1}}
    task = api.submit("alice", gpu_task)
    assert task["state"] == "scheduled", task["reason"]
    busy = api.call("alice", "GET", "/v1/load").json()
    held = dict(zip(busy["node_ids"], busy["accelerators_reserved"]["gpu"], strict=True))
    assert {n: c for n, c in held.items() if c} == {task["placement"]["node_id"]: 1}
    api.call("alice", "POST", f"/v1/tasks/{task['id']}/cancel")
    again = api.call("alice", "GET", "/v1/load").json()
    assert not any(again["accelerators_reserved"]["gpu"])
