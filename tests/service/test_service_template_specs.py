"""A template's components as deployments: policies, the tightest budget, summed bandwidth."""

from __future__ import annotations

import pytest

from suanwang.model import TrustLevel
from suanwang.scenario.template import template_from_data
from suanwang.scheduling import required_bandwidth_mbps
from suanwang.service.template_specs import template_deployments

TASK = {"work_gflop": 1.0, "data_out_mb": 0.0, "datasets": ["footage"]}


def test_policies_budgets_and_bandwidth_become_the_replicas_demands() -> None:
    doc = template_from_data(
        {
            "version": 1,
            "name": "video",
            "components": {
                "decode": {"task": TASK, "replicas": 1},
                "detect": {
                    "task": TASK,
                    "replicas": 3,
                    "policies": {"residency": ["CN-GD"], "trust": 2},
                },
            },
            "connections": [
                {"from": "users", "to": "decode", "ingress_site": "s1", "latency_budget_ms": 10.0},
                {
                    "from": "decode",
                    "to": "detect",
                    "latency_budget_ms": 30.0,
                    "bandwidth_mbps": 40.0,
                },
                {
                    "from": "users",
                    "to": "detect",
                    "ingress_site": "s1",
                    "latency_budget_ms": 25.0,
                    "bandwidth_mbps": 10.0,
                },
            ],
        },
        "<test>",
    )
    made = template_deployments(doc, "acme")
    assert set(made) == {"video/decode", "video/detect"}
    detect = made["video/detect"]
    assert detect.tenant == "acme"
    assert detect.template.residency == ("CN-GD",)
    assert detect.template.datasets == ("footage",)
    assert detect.template.min_trust_level is TrustLevel.VERIFIED
    assert detect.template.ingress_site == "s1"
    assert detect.template.latency_budget_ms == 25.0  # tighter than 10 + 30 through decode
    assert required_bandwidth_mbps(detect.template) == pytest.approx(50.0)
    assert (detect.policy.min_replicas, detect.policy.max_replicas) == (3, 3)
    decode = made["video/decode"].template
    assert (decode.latency_budget_ms, decode.data_in_mb, decode.long_running) == (10.0, 0.0, True)
