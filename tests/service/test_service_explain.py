"""Live explanations: a placed task is explained without its own hold, and nothing is reserved.

Two nodes: ``solo`` next to the ingress with exactly the 4 cores the task holds, and ``spare``
20 ms away. Under ``nearest`` the task goes to ``solo`` and fills it; were its own hold
counted, "why not solo" would answer "needs 4 free CPU cores, has 0".
"""

from __future__ import annotations

from suanwang.control.ports import ManualClock
from suanwang.execution import AgentDispatch
from suanwang.model import Link, Node, Precision, Scenario, Site, Task, TaskSpec, Tier, Topology
from suanwang.scheduling import resolve_profile
from suanwang.service import LiveNetwork

SPEC = TaskSpec(work_gflop=10.0, cpu_cores=4.0, mem_gib=4.0, ingress_site="U")


class _Silent:
    def task_changed(self, task: Task, cause: str) -> None:
        pass


def _live() -> LiveNetwork:
    sites = [Site("U", Tier.TERMINAL), Site("E", Tier.EDGE), Site("R", Tier.REGION)]
    rate = {Precision.FP32: 1_000.0}
    nodes = [
        Node("solo", "E", cpu_cores=4, mem_gib=8.0, cpu_peak_gflops=rate),
        Node("spare", "R", cpu_cores=16, mem_gib=64.0, cpu_peak_gflops=rate),
    ]
    links = [
        Link("u-e", "U", "E", bandwidth_mbps=1_000.0, latency_ms=1.0),
        Link("u-r", "U", "R", bandwidth_mbps=1_000.0, latency_ms=20.0),
    ]
    scenario = Scenario("two-nodes", Topology(sites, nodes, links=links))
    return LiveNetwork.build(
        scenario, resolve_profile("nearest"), ManualClock(), _Silent(), dispatch=AgentDispatch
    )


def test_a_placed_task_is_explained_without_its_own_hold() -> None:
    live = _live()
    task = live.controller.submit("t1", SPEC)
    assert task.placement is not None
    assert task.placement.node_id == "solo"
    ledger = live.controller.state.reservations
    before = ledger.cpu_cores.copy()

    explanation = live.explain(task, "solo")

    assert explanation.placeable
    assert explanation.node_id == "solo"
    assert explanation.placed_on == "solo"
    assert explanation.why_not is not None
    assert explanation.why_not.passed
    assert explanation.rejected_by == {}
    assert explanation.why_here is not None
    assert explanation.why_here.chosen.node_id == "solo"
    assert [a.node_id for a in explanation.why_here.alternatives] == ["spare"]
    # Nothing changed on the live ledger: the task holds what it held, the probe nothing.
    assert (ledger.cpu_cores == before).all()
    assert len(ledger) == 1
    assert ledger.held("t1") is not None


def test_another_task_s_hold_still_counts() -> None:
    live = _live()
    first = live.controller.submit("t1", SPEC)
    second = live.controller.submit("t2", SPEC)
    assert first.placement is not None
    assert second.placement is not None
    assert second.placement.node_id == "spare"

    explanation = live.explain(second, "solo")

    assert explanation.node_id == "spare"
    assert explanation.why_not is not None
    assert explanation.why_not.reason == "needs 4 free CPU cores, has 0"
    [group] = explanation.refusals
    assert (group.plugin, group.kind, group.count) == ("resource-fit", "free CPU cores", 1)
    assert group.closest[0].short_by == 4.0
