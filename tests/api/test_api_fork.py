"""``POST /v1/twin/fork``: what-ifs on the live plane, answered without placing anything."""

from __future__ import annotations

from api_support import CPU_TASK, INGRESS, Api


def _fork(api: Api, body: dict[str, object], who: str = "ops") -> object:
    return api.call(who, "POST", "/v1/twin/fork", json=body)


def test_a_what_if_answers_the_prediction_and_places_nothing(api: Api) -> None:
    placed = api.submit("alice")
    before = api.call("admin", "GET", "/v1/tasks").json()

    response = _fork(api, {"tasks": [CPU_TASK, CPU_TASK], "horizon_s": 600, "background": False})

    assert response.status_code == 200, response.text
    prediction = response.json()
    assert prediction["placed"] == 2
    assert prediction["sla_met_fraction"] == 1.0
    assert set(prediction["per_task"]) == {"what-if-0", "what-if-1"}
    assert all(prediction["per_task"].values())
    assert prediction["residents"] == 1
    assert api.call("admin", "GET", "/v1/tasks").json() == before
    assert api.call("alice", "GET", f"/v1/tasks/{placed['id']}").json()["state"] == placed["state"]


def test_a_failed_site_displaces_what_runs_there(api: Api) -> None:
    task = api.submit("alice")
    node = task["placement"]["node_id"]
    nodes = api.call("admin", "GET", "/v1/nodes").json()
    rows = nodes["nodes"] if isinstance(nodes, dict) else nodes
    site = next(n["site_id"] for n in rows if n["id"] == node)

    prediction = _fork(api, {"fail_sites": [site], "horizon_s": 600}).json()

    assert prediction["displaced"] == 1
    assert prediction["per_task"][task["id"]] not in ("", node)


def test_a_start_hour_runs_ahead_from_that_hour(api: Api) -> None:
    prediction = _fork(api, {"tasks": [CPU_TASK], "at_hour": 20, "horizon_s": 60}).json()
    assert prediction["start_s"] % 86_400 == 20 * 3600


def test_bad_what_ifs_are_named(api: Api) -> None:
    cases = [
        ({"fail_sites": ["atlantis"]}, "fail_sites.0"),
        ({"horizon_s": 0}, "horizon_s"),
        ({"load_factor": -1}, "load_factor"),
        ({"at_hour": 20, "at_s": 1e9}, "at_hour or at_s"),
        ({"tasks": [{"ingress_site": INGRESS}]}, "tasks.0"),
        ({"surprise": 1}, "surprise"),
    ]
    for body, named in cases:
        response = _fork(api, body)
        assert response.status_code == 422, (body, response.text)
        assert named in response.text, (body, response.text)


def test_only_staff_may_fork(api: Api) -> None:
    assert _fork(api, {}, who="alice").status_code == 403
    assert _fork(api, {}, who="admin").status_code == 200
