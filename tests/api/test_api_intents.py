"""``/v1/intents``: dry runs predict without placing, applied intents place their tasks live and
read back per tenant, infeasible and malformed ones are 422s that name what is wrong, withdrawal
cancels the tasks, and each step is audited."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import INGRESS, Api

from suanwang.service import ControlPlane


def vr(**changes: Any) -> dict[str, Any]:
    """AR/VR for 20 users entering at Futian: two replicas for the load and, at 99.9 %, a spare."""
    intent: dict[str, Any] = {
        "version": 1,
        "name": "futian-vr",
        "need": {"kind": "ar-vr", "users": 20},
        "coverage": {"sites": [INGRESS]},
        "quality": {"latency_ms": 20, "availability": 0.999},
    }
    return {**intent, **changes}


def _apply(api: Api, body: dict[str, Any], who: str = "alice", dry_run: bool = False) -> Any:
    path = "/v1/intents?dry_run=true" if dry_run else "/v1/intents"
    return api.call(who, "POST", path, json=body)


def _audit(api: Api) -> list[tuple[str, str, str]]:
    plane: ControlPlane = api.client.app.state.plane  # type: ignore[attr-defined]
    plane.call(lambda _: None).result(10)  # the entries queued so far are committed
    entries = api.call("admin", "GET", "/v1/audit", params={"limit": 1000}).json()
    return [(e["action"], e["target"], e["detail"]) for e in entries if "intent." in e["action"]]


def _tasks(api: Api, who: str = "alice") -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = api.call(who, "GET", "/v1/tasks").json()["items"]
    return tasks


def test_a_dry_run_answers_the_derivation_and_prediction_and_places_nothing(api: Api) -> None:
    response = _apply(api, vr(), dry_run=True)

    assert response.status_code == 200, response.text
    plan = response.json()
    assert (plan["dry_run"], plan["replicas"], plan["intent"]) == (True, 3, None)
    rules = {d["field"]: (d["value"], d["rule"]) for d in plan["derivations"]}
    assert rules["replicas for the load"][0] == "2"
    assert "ceil(20 users / 10 per replica)" in rules["replicas for the load"][1]
    assert rules["spare replicas"] == ("1", "availability 0.999 >= 0.999 (catalogue spares)")
    assert rules["latency_budget_ms per request"][0] == "20"
    assert plan["conflicts"] == []
    assert plan["check"]["room_for"] >= 3
    assert plan["check"]["best_latency_ms"] < 20
    prediction = plan["prediction"]
    assert (prediction["placed"], prediction["rejected"]) == (3, 0)
    assert prediction["sla_met_fraction"] == 1.0
    assert all(prediction["per_task"].values())
    assert _tasks(api) == []
    assert api.call("alice", "GET", "/v1/intents").json() == []
    assert _audit(api) == []  # a dry run is not a change


def test_an_applied_intent_places_its_tasks_and_reads_back_in_its_tenant(api: Api) -> None:
    response = _apply(api, vr())

    assert response.status_code == 201, response.text
    plan = response.json()
    intent = plan["intent"]
    assert intent["status"] == "met"
    assert (intent["tenant"], intent["who"], intent["name"]) == ("acme", "alice", "futian-vr")
    assert len(intent["task_ids"]) == 3
    placed = []
    for task_id in intent["task_ids"]:
        task = api.call("alice", "GET", f"/v1/tasks/{task_id}").json()
        assert task["state"] == "scheduled"
        assert task["spec"]["latency_budget_ms"] == 20
        placed.append(task["placement"]["node_id"])
    assert sorted(placed) == sorted(plan["prediction"]["per_task"].values())  # where predicted

    [listed] = api.call("alice", "GET", "/v1/intents").json()
    assert listed["id"] == intent["id"]
    detail = api.call("alice", "GET", f"/v1/intents/{intent['id']}").json()
    assert [t["id"] for t in detail["tasks"]] == intent["task_ids"]
    assert sorted(t["node_id"] for t in detail["tasks"]) == sorted(placed)
    assert {t["state"] for t in detail["tasks"]} == {"scheduled"}
    assert detail["derivations"] == plan["derivations"]
    [applied] = detail["history"]
    assert applied["status"] == "met"
    assert "the fork predicted SLA met 1.00" in applied["reason"]
    stored = detail["prediction"]  # stored with the intent, to set against what is measured
    assert stored["sla_met_fraction"] == plan["prediction"]["sla_met_fraction"]
    assert stored["cost"] == plan["prediction"]["cost"]
    assert stored["nodes"] == [plan["prediction"]["per_task"][f"what-if-{i}"] for i in range(3)]
    assert len(stored["sites"]) == 3
    assert all(stored["sites"])
    assert stored["horizon_s"] > 0
    assert stored["forked_at_s"] <= intent["created_at_s"]
    assert detail["assurance"] == {
        "style": "service",
        "measured": None,  # not assessed yet
        "judged": 0,
        "predicted": 1.0,
    }
    assert intent["prediction"] == stored
    assert api.call("admin", "GET", f"/v1/intents/{intent['id']}").status_code == 200

    other = api.call("bob", "GET", f"/v1/intents/{intent['id']}")
    assert other.status_code == 404
    assert intent["id"] in other.json()["detail"]
    assert api.call("bob", "GET", "/v1/intents").json() == []
    [(action, target, detail_text)] = _audit(api)
    assert (action, target) == ("intent.apply", f"intent:{intent['id']}")
    assert "3 tasks submitted live" in detail_text


@pytest.mark.parametrize(
    ("changes", "kind", "constraints"),
    [
        # The nearest node to Futian's users is about 3 ms away.
        ({"quality": {"latency_ms": 0.1}}, "latency-reach", ["quality.latency_ms", "coverage"]),
        ({"budget": 1e-7}, "budget-quality", ["budget", "quality.latency_ms"]),
    ],
)
def test_an_infeasible_intent_is_a_422_naming_the_constraints_and_is_audited(
    api: Api, changes: dict[str, Any], kind: str, constraints: list[str]
) -> None:
    response = _apply(api, vr(**changes))

    assert response.status_code == 422, response.text
    problem = response.json()
    [conflict] = problem["conflicts"]
    assert (conflict["kind"], conflict["constraints"]) == (kind, constraints)
    assert " vs ".join(constraints) in problem["detail"]
    assert problem["plan"]["prediction"] is None
    assert _tasks(api) == []
    assert api.call("alice", "GET", "/v1/intents").json() == []
    [(action, target, detail)] = _audit(api)
    assert (action, target) == ("intent.refused", "intent:futian-vr")
    assert kind in detail

    dry = _apply(api, vr(**changes), dry_run=True)
    assert dry.status_code == 422
    assert dry.json()["conflicts"] == problem["conflicts"]
    assert len(_audit(api)) == 1  # a refused dry run is not audited


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"need": {"kind": "ar-vr", "users": -1}}, "body.need.users", -1),
        ({"need": {"kind": "telepathy", "users": 1}}, "body.need.kind", "telepathy"),
        ({"carbon": "green"}, "body.carbon", "green"),
        ({"quality": {"availability": 2}}, "body.quality.availability", 2),
        ({"coverage": {}}, "body.coverage", None),
        ({"version": 2}, "body.version", 2),
    ],
)
def test_a_malformed_intent_is_a_422_naming_field_and_value(
    api: Api, changes: dict[str, Any], field: str, value: object
) -> None:
    response = _apply(api, vr(**changes))

    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["field"], problem["value"]) == (field, value)
    assert field.removeprefix("body.") in problem["detail"]
    assert _audit(api) == []
    assert _tasks(api) == []


def test_withdrawing_cancels_the_tasks_in_its_tenant_only(api: Api) -> None:
    intent = _apply(api, vr()).json()["intent"]
    path = f"/v1/intents/{intent['id']}"
    assert api.call("bob", "DELETE", path).status_code == 404
    assert api.call("alice", "DELETE", "/v1/intents/nothing-here").status_code == 404

    response = api.call("alice", "DELETE", path)

    assert response.status_code == 200, response.text
    withdrawn = response.json()
    assert withdrawn["status"] == "withdrawn"
    assert withdrawn["history"][-1]["reason"] == "withdrawn by alice: 3 live task(s) cancelled"
    states = [
        api.call("alice", "GET", f"/v1/tasks/{t}").json()["state"] for t in intent["task_ids"]
    ]
    assert states == ["cancelled"] * 3
    assert api.call("alice", "GET", path).json()["status"] == "withdrawn"
    assert [a for a, _, _ in _audit(api)] == ["intent.apply", "intent.withdraw"]


def test_only_submitters_apply_and_withdraw(api: Api) -> None:
    assert _apply(api, vr(), who="prov").status_code == 403
    assert api.call("prov", "GET", "/v1/intents").status_code == 200
    intent = _apply(api, vr()).json()["intent"]
    assert api.call("prov", "DELETE", f"/v1/intents/{intent['id']}").status_code == 403
