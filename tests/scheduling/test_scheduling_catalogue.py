"""CS-ID -> CSCI-ID resolution: a task naming a service runs only where an instance of it runs.

On ``hand_topology`` (conftest.py) the nearest node to ingress U is edge-cpu (1 ms); the
service ``cs-x`` has instances on region-gpu (11 ms, 20 per hour) and hub-big (31 ms, 10 per
hour), so the nearest profile picks region-gpu and the cost profile hub-big.
"""

from __future__ import annotations

import dataclasses

import pytest

from suanwang.model import (
    InstanceId,
    Service,
    ServiceId,
    ServiceInstance,
    TaskSpec,
    TrustLevel,
)
from suanwang.scheduling import ClusterState, Code, Request, Scheduler
from suanwang.scheduling.catalogue import ServiceCatalogue

X = Service(
    ServiceId("cs-x"),
    "x",
    instances=(
        ServiceInstance(InstanceId("csci-x-region"), "region-gpu"),
        ServiceInstance(InstanceId("csci-x-hub"), "hub-big"),
    ),
)
EMPTY = Service(ServiceId("cs-empty"), "deployed with the task")


def spec(service_id: str | None) -> TaskSpec:
    """The conftest's base task (4 cores, 10 GFLOP at U) naming ``service_id``."""
    return TaskSpec(
        work_gflop=10.0, cpu_cores=4.0, mem_gib=1.0, ingress_site="U", service_id=service_id
    )


def scheduler(sw, services=(X, EMPTY), scores=None) -> Scheduler:
    topology = sw.hand_topology()
    catalogue = ServiceCatalogue.of(services, topology.arrays.node_ids)
    state = ClusterState(topology, catalogue=catalogue)
    filters = ("node-health", "resource-fit")
    return Scheduler(sw.profile(filters=filters, scores=scores or {"nearest": 1.0}), state)


def test_a_named_service_runs_on_its_nearest_instance_and_the_placement_names_it(sw) -> None:
    decision = scheduler(sw).schedule(Request("t1", spec("cs-x")))
    assert decision.placement is not None
    assert (decision.placement.node_id, decision.placement.instance_id) == (
        "region-gpu",
        "csci-x-region",
    )
    plain = scheduler(sw).schedule(Request("t2", spec(None)))
    assert plain.placement is not None
    assert (plain.placement.node_id, plain.placement.instance_id) == ("edge-cpu", None)


def test_the_profile_s_scores_choose_among_the_instances(sw) -> None:
    decision = scheduler(sw, scores={"cost": 1.0}).schedule(Request("t1", spec("cs-x")))
    assert decision.placement is not None
    assert decision.placement.instance_id == "csci-x-hub"


def test_a_full_instance_leaves_the_other_one(sw) -> None:
    chosen = scheduler(sw)
    sw.hold(chosen.state, "background", "region-gpu", cores=30.0)
    decision = chosen.schedule(Request("t1", spec("cs-x")))
    assert decision.placement is not None
    assert decision.placement.instance_id == "csci-x-hub"


def test_nodes_without_an_instance_are_refused_with_the_instances_named(sw) -> None:
    chosen = scheduler(sw)
    for node in ("region-gpu", "hub-big"):
        chosen.state.mark_node(sw.index_of(chosen.state, node), down=True)
    decision = chosen.schedule(Request("t1", spec("cs-x")))
    assert decision.placement is None
    assert decision.status.code is Code.UNSCHEDULABLE  # the instances may come back
    verdict = decision.diagnosis.why_not("edge-cpu")
    assert verdict.plugin == "service-instances"
    assert verdict.reason == (
        "no instance of service cs-x runs here (instances on: region-gpu, hub-big)"
    )


def test_a_cs_id_outside_the_catalogue_is_an_error_naming_it(sw) -> None:
    decision = scheduler(sw).schedule(Request("t1", spec("cs-typo")))
    assert decision.status.code is Code.ERROR
    assert decision.status.plugin == "service-instances"
    assert decision.status.reason == (
        "service_id: 'cs-typo' names no service of the catalogue (known: cs-empty, cs-x)"
    )


@pytest.mark.parametrize("service_id", ["cs-empty", "suanwang.execution.kinds:matmul"])
def test_a_service_without_instances_or_a_function_path_runs_anywhere(sw, service_id) -> None:
    decision = scheduler(sw).schedule(Request("t1", spec(service_id)))
    assert decision.placement is not None
    assert (decision.placement.node_id, decision.placement.instance_id) == ("edge-cpu", None)


def test_a_state_without_a_catalogue_resolves_nothing(sw) -> None:
    chosen = Scheduler(sw.profile(), ClusterState(sw.hand_topology()))
    decision = chosen.schedule(Request("t1", spec("cs-anything")))
    assert decision.placement is not None
    assert decision.placement.node_id == "edge-cpu"


def test_a_new_catalogue_is_read_at_the_next_cycle_not_a_kept_refusal(sw) -> None:
    sovereign = dataclasses.replace(spec("cs-x"), min_trust_level=TrustLevel.SOVEREIGN)
    small = Service(ServiceId("cs-x"), instances=(ServiceInstance(InstanceId("i"), "edge-small"),))
    chosen = scheduler(sw, services=(small,))
    refused = chosen.schedule(Request("t1", sovereign))
    assert refused.status.code is Code.UNRESOLVABLE  # its only instance is never trusted enough
    chosen.state.catalogue = ServiceCatalogue.of((X,), chosen.state.arrays.node_ids)
    for node in ("region-gpu", "hub-big"):
        chosen.state.mark_node(sw.index_of(chosen.state, node), down=True)
    again = chosen.schedule(Request("t2", sovereign))
    assert again.status.code is Code.UNSCHEDULABLE  # trusted instances now, down for a while


def test_a_catalogue_over_other_nodes_is_refused(sw) -> None:
    with pytest.raises(ValueError, match="catalogue's nodes differ"):
        ClusterState(sw.hand_topology(), catalogue=ServiceCatalogue.of((X,), ("a", "b")))


def test_an_instance_serves_from_its_ready_time_on_the_catalogue_clock(sw) -> None:
    pulling = Service(
        ServiceId("cs-p"),
        instances=(
            ServiceInstance(InstanceId("p-region"), "region-gpu", ready_s=5.0),
            ServiceInstance(InstanceId("p-hub"), "hub-big", ready_s=9.0),
        ),
    )
    catalogue = ServiceCatalogue.of((pulling,), sw.hand_topology().arrays.node_ids)
    assert catalogue.hosts("cs-p").tolist().count(True) == 2  # never advanced: every one counts
    assert catalogue.ready_times_s() == [5.0, 9.0]
    catalogue.advance(0.0)
    hosts = catalogue.hosts("cs-p")
    assert hosts is not None  # listed, none serving yet: nowhere, not anywhere
    assert not hosts.any()
    catalogue.advance(5.0)
    region = catalogue.node_ids.index("region-gpu")
    assert catalogue.hosts("cs-p").tolist() == [i == region for i in range(len(catalogue.node_ids))]
    assert catalogue.instance_on("cs-p", "hub-big") is None
    catalogue.advance(9.0)
    assert catalogue.instance_on("cs-p", "hub-big") == "p-hub"


def test_a_refusal_names_the_time_a_pulling_instance_serves_from(sw) -> None:
    pulling = Service(
        ServiceId("cs-p"), instances=(ServiceInstance(InstanceId("p"), "region-gpu", ready_s=7.5),)
    )
    sched = scheduler(sw, services=(pulling,))
    sched.state.catalogue.advance(0.0)
    decision = sched.schedule(Request("t1", spec("cs-p")))
    assert decision.placement is None
    assert decision.diagnosis.why_not("region-gpu").reason == (
        "the instance of service cs-p here serves from t = 7.5 s"
    )
    sched.state.catalogue.advance(7.5)
    served = sched.schedule(Request("t2", spec("cs-p")))
    assert served.placement is not None
    assert served.placement.instance_id == "p"
