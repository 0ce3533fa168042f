"""The template format: a good file reads; each bad one is one line naming file, line, field
and value."""

from __future__ import annotations

import pytest

from suanwang.scenario.errors import ScenarioError
from suanwang.scenario.template import read_template

GOOD = """\
version: 1
name: video
components:
  detect:
    task: {work_gflop: 40, cpu_cores: 2}
    autoscale: {min_replicas: 1, max_replicas: 4}
    policies: {residency: [CN-GD], trust: 1}
  store:
    task: {work_gflop: 5}
    replicas: 2
connections:
  - {from: users, to: detect, ingress_site: term-futian, latency_budget_ms: 40, bandwidth_mbps: 50}
  - {from: detect, to: store, latency_budget_ms: 20}
"""


def test_a_good_template_reads_and_writes_back_its_from_keys() -> None:
    doc = read_template(GOOD, "video.yaml")
    assert list(doc.components) == ["detect", "store"]
    assert doc.components["detect"].policies.trust == 1
    data = doc.data()
    assert data["connections"][1] == {"from": "detect", "to": "store", "latency_budget_ms": 20.0}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("version: 1", "version: 2", "video.yaml:1: version: should be 1 (got 2)"),
        ("name: video", "name: Video_1", "video.yaml:2: name: a template's name is"),
        ("    replicas: 2", "    replicas: 0", "video.yaml:10: components.store.replicas"),
        (
            "    replicas: 2",
            "    replicas: 2\n    autoscale: {max_replicas: 3}",
            "video.yaml:8: components.store: give either replicas or autoscale",
        ),
        ("max_replicas: 4", "max_replicas: 0", "components.detect.autoscale.max_replicas"),
        (
            "min_replicas: 1, max_replicas: 4",
            "min_replicas: 3, max_replicas: 2",
            "video.yaml:6: components.detect.autoscale.max_replicas: is below min_replicas 3",
        ),
        ("trust: 1", "trust: 9", "video.yaml:7: components.detect.policies.trust"),
        ("to: store", "to: nowhere", "video.yaml:13: connections[1].to: names no component"),
        ("from: detect", "from: ghost", "connections[1].from: names no component (nor users)"),
        (
            "ingress_site: term-futian, ",
            "",
            "video.yaml:12: connections[0]: ingress_site is given exactly on connections from",
        ),
        (
            "latency_budget_ms: 20",
            "bandwidth_mbps: 3",
            "connections[1].latency_budget_ms: required",
        ),
        ("cpu_cores: 2}", "cpu_cores: 2, gpus: 1}", "components.detect.task.gpus: unknown field"),
        (
            "task: {work_gflop: 5}",
            "task: {work_gflop: 5, ingress_site: x}",
            "video.yaml:9: components.store.task.ingress_site: set by the connections",
        ),
        (
            "  - {from: detect",
            "  - {from: store, to: detect, latency_budget_ms: 5}\n  - {from: detect",
            "connections: connections form a cycle",
        ),
    ],
)
def test_a_bad_template_is_named(old: str, new: str, expected: str) -> None:
    assert old in GOOD
    with pytest.raises(ScenarioError) as raised:
        read_template(GOOD.replace(old, new, 1), "video.yaml")
    assert expected in str(raised.value)


def test_a_component_reached_only_from_unreached_ones_has_no_ingress() -> None:
    text = GOOD.replace("from: users, to: detect", "from: users, to: store")
    text = text.replace("from: detect, to: store", "from: store, to: detect", 1)
    read_template(text, "video.yaml")  # store is reached from users, detect through store
    orphan = GOOD.replace(
        "  - {from: users", "  - {from: src, to: lone, latency_budget_ms: 5}\n  - {from: users"
    ).replace("components:\n", "components:\n  lone: {task: {work_gflop: 1}, replicas: 1}\n")
    orphan = orphan.replace(
        "components:\n", "components:\n  src: {task: {work_gflop: 1}, replicas: 1}\n"
    )
    with pytest.raises(
        ScenarioError, match=r"connections\[0\].from: reached from no users connection"
    ):
        read_template(orphan, "video.yaml")
