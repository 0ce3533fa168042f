"""``GET /v1/catalogue/types``: the live scenario's task types, a custom scenario's own too."""

from __future__ import annotations

from importlib.resources import files

from api_support import INGRESS, Api


def test_the_catalogue_lists_the_live_types_with_their_fields(api: Api) -> None:
    response = api.call("alice", "GET", "/v1/catalogue/types")
    assert response.status_code == 200
    catalogue = response.json()
    types = {t["name"]: t for t in catalogue["types"]}
    assert catalogue["scenario"] == "metro-edge"
    frame = types["video-analytics-frame"]
    assert frame["spec"]["accelerator"]["kind"] == "gpu"
    assert frame["spec"]["latency_budget_ms"] == 100.0
    assert frame["spec"]["ingress_site"] is None
    assert frame["description"]
    # what the catalogue says is what a submit of the type gets
    task = api.submit("alice", {"task_type": "video-analytics-frame", "ingress_site": INGRESS})
    assert task["spec"]["work_gflop"] == frame["spec"]["work_gflop"]


def test_a_loaded_custom_scenario_brings_its_own_types(api: Api) -> None:
    text = (files("suanwang") / "scenarios" / "cats-arvr.yaml").read_text(encoding="utf-8")
    custom = text.replace("name: ar-vr-frame", "name: holo-call-frame").replace(
        "task_type: ar-vr-frame", "task_type: holo-call-frame"
    )
    loaded = api.call("admin", "POST", "/v1/scenarios/live", json={"text": custom})
    assert loaded.status_code == 200, loaded.text
    names = [t["name"] for t in api.call("alice", "GET", "/v1/catalogue/types").json()["types"]]
    assert "holo-call-frame" in names
    assert "ar-vr-frame" not in names


def test_the_catalogue_needs_a_token(api: Api) -> None:
    assert api.call(None, "GET", "/v1/catalogue/types").status_code == 401
