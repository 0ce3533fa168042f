"""``GET /v1/nodes/{id}/levels``: a node's L0 values with their L1 and L2 scores."""

from __future__ import annotations

import math

from api_support import Api
from test_api_agents import _agent, _bind, _report

from suanwang.measure import CATEGORIES, DEFAULT_CONFIG, l1_scores, l2_scores


def test_levels_score_what_the_agent_reported(api: Api) -> None:
    agent = _agent(api, "edge-futian-mec-2")
    silent = api.call("ops", "GET", f"/v1/nodes/{agent.node}/levels").json()
    assert (silent["l0"], silent["l2"], silent["age_s"]) == ({}, 0.0, None)
    assert set(silent["l1"]) == {str(c) for c in CATEGORIES}
    assert all(v is None for v in silent["l1"].values())

    assert _bind(api, agent) == 200
    assert _report(api, agent, agent.keys).status_code == 200  # type: ignore[attr-defined]
    levels = api.call("ops", "GET", f"/v1/nodes/{agent.node}/levels").json()
    assert levels["l0"] == {"load_ratio": 0.25, "cpu_free_cores": 12.0}
    names = list(levels["l0"])
    l1 = l1_scores(names, list(levels["l0"].values()), DEFAULT_CONFIG)
    expected = {
        str(c): None if math.isnan(v) else round(float(v), 3)
        for c, v in zip(CATEGORIES, l1[0], strict=True)
    }
    assert levels["l1"] == expected
    assert any(v is not None for v in expected.values())
    assert levels["l2"] == round(float(l2_scores(l1, DEFAULT_CONFIG)[0]), 3)
    assert 0 < levels["l2"] <= 10


def test_levels_are_for_the_nodes_keepers(api: Api) -> None:
    assert api.call("alice", "GET", "/v1/nodes/edge-futian-mec-1/levels").status_code == 403
    assert api.call("prov", "GET", "/v1/nodes/edge-futian-mec-1/levels").status_code == 200
    assert api.call("prov", "GET", "/v1/nodes/edge-futian-mec-2/levels").status_code == 403
    assert api.call("ops", "GET", "/v1/nodes/nope/levels").status_code == 404
