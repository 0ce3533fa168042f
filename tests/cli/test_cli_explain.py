"""``suanwang task explain`` tables, from the explain route's document of a live network."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from suanwang.api.explanations import ExplanationOut
from suanwang.cli.explain_tables import explanation_view
from suanwang.control.ports import ManualClock
from suanwang.execution import AgentDispatch
from suanwang.model import AcceleratorKind, AcceleratorNeed, Task, TaskSpec
from suanwang.scenario import load_builtin
from suanwang.scheduling import resolve_profile
from suanwang.service import LiveNetwork

INGRESS = "term-futian"


class _Silent:
    def task_changed(self, task: Task, cause: str) -> None:
        pass


@pytest.fixture(scope="module")
def live() -> LiveNetwork:
    scenario = load_builtin("metro-edge")
    return LiveNetwork.build(
        scenario, resolve_profile("cats-joint"), ManualClock(), _Silent(), dispatch=AgentDispatch
    )


def _document(live: LiveNetwork, task_id: str, spec: TaskSpec, node: str | None = None) -> Any:
    task = live.controller.submit(task_id, spec)
    return ExplanationOut.of(task, live.explain(task, node)).model_dump(mode="json")


def _render(document: dict[str, Any]) -> str:
    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(explanation_view(document))
    return console.export_text()


def test_a_placed_task_prints_its_points_and_the_runners_up(live: LiveNetwork) -> None:
    gpu = AcceleratorNeed(AcceleratorKind.GPU, 1)
    spec = TaskSpec(5.0, cpu_cores=1.0, mem_gib=0.5, ingress_site=INGRESS, accelerator=gpu)
    document = _document(live, "placed", spec, node="edge-futian-mec-1")
    out = _render(document)
    here = document["why_here"]
    chosen = here["chosen"]
    assert f"would go to {document['node_id']} (where it is placed" in out
    assert f"why here: {chosen['node_id']} scores {chosen['score']:.1f}" in out
    for part in chosen["scores"]:
        assert part["plugin"] in out
    assert f"total {chosen['score']:.1f}".replace(" ", "") in out.replace(" ", "")
    assert f"{chosen['node_id']} (chosen)" in out
    for alternative in here["alternatives"]:
        assert alternative["node_id"] in out
    assert "why not edge-futian-mec-1: resource-fit: needs 1 free gpu, has 0" in out
    # CPU-only nodes can never take a GPU task, whatever the load
    assert "never" in out


def test_a_refused_task_prints_its_closest_misses(live: LiveNetwork) -> None:
    spec = TaskSpec(5.0, cpu_cores=1.0, ingress_site=INGRESS, latency_budget_ms=0.01)
    document = _document(live, "refused", spec)
    out = _render(document)
    assert out.startswith("refused: ")
    assert "turned away (closest first)" in out
    [group] = document["refusals"]
    assert group["plugin"] == "latency-bound"
    closest = group["closest"][0]
    assert f"{closest['short_by']:.3g} ms" in out
    assert closest["node_id"] in out
    assert "why here" not in out
