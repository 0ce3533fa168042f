"""Topology: reference checks, versions on every change, array indexes."""

import numpy as np
import pytest

from suanwang.model import (
    Accelerator,
    AcceleratorKind,
    ElementKind,
    GeoPosition,
    Link,
    NetworkElement,
    Node,
    Precision,
    Site,
    Tier,
    Topology,
    TopologyError,
    fibre_latency_ms,
)

GPU = Accelerator(
    AcceleratorKind.GPU,
    "A100",
    count=4,
    peak_gflops={Precision.FP32: 19_500.0, Precision.FP16: 312_000.0},
)


def _topology() -> Topology:
    return Topology(
        sites=[Site("user", Tier.TERMINAL), Site("edge", Tier.EDGE), Site("hub", Tier.HUB)],
        nodes=[
            Node("e1", "edge", cpu_cores=8, mem_gib=16, cpu_peak_gflops={Precision.FP32: 200}),
            Node("h1", "hub", cpu_cores=64, mem_gib=512, accelerators=(GPU,)),
        ],
        elements=[NetworkElement("r1", ElementKind.ROUTER)],
        links=[
            Link("l1", "user", "edge", bandwidth_mbps=1000, latency_ms=2),
            Link("l2", "edge", "r1", bandwidth_mbps=10_000, latency_ms=5),
            Link("l3", "r1", "hub", bandwidth_mbps=100_000, latency_ms=10),
        ],
    )


def test_arrays_index_vertices_nodes_and_links() -> None:
    arrays = _topology().arrays
    assert arrays.vertex_ids == ("user", "edge", "hub", "r1")
    assert arrays.vertex_is_site.tolist() == [True, True, True, False]
    assert arrays.vertex_tier_rank.tolist() == [0, 2, 4, -1]
    assert arrays.node_vertex.tolist() == [1, 2]
    assert arrays.node_cpu_cores.tolist() == [8, 64]
    assert arrays.link_a.tolist() == [0, 1, 3]
    assert arrays.link_b.tolist() == [1, 3, 2]
    gpu = list(AcceleratorKind).index(AcceleratorKind.GPU)
    fp16 = list(Precision).index(Precision.FP16)
    assert arrays.node_accel_count[1, gpu] == 4
    assert arrays.node_accel_peak_gflops[1, gpu, fp16] == 4 * 312_000.0
    assert arrays.node_cpu_peak_gflops[0, list(Precision).index(Precision.FP32)] == 200
    with pytest.raises(ValueError, match="read-only"):
        arrays.node_cpu_cores[0] = 1.0


def test_arrays_are_built_once_per_version() -> None:
    topology = _topology()
    assert topology.arrays is topology.arrays


def test_every_change_gives_a_new_version_and_leaves_the_old_one_alone() -> None:
    old = _topology()
    slower = Link("l1", "user", "edge", bandwidth_mbps=100, latency_ms=2)
    new = old.updated(slower)
    assert new.version != old.version
    assert new.links["l1"].bandwidth_mbps == 100
    assert old.links["l1"].bandwidth_mbps == 1000
    np.testing.assert_array_equal(new.arrays.link_bandwidth_mbps, [100, 10_000, 100_000])
    smaller = new.removed("e1")
    assert "e1" not in smaller.nodes
    assert len({old.version, new.version, smaller.version}) == 3
    assert old != new
    assert _topology() == _topology()  # equality ignores the version


@pytest.mark.parametrize(
    ("build", "kind", "needle"),
    [
        (lambda t: Topology([*t.sites.values(), Site("edge", Tier.EDGE)]), "duplicate", "edge"),
        (lambda t: Topology(t.sites.values(), [Node("x", "nowhere")]), "unknown", "nowhere"),
        (
            lambda t: Topology(t.sites.values(), (), (), [Link("l", "user", "mars", 1, 1)]),
            "unknown",
            "mars",
        ),
        (
            lambda t: Topology(t.sites.values(), (), [NetworkElement("hub", ElementKind.SWITCH)]),
            "duplicate",
            "hub",
        ),
    ],
)
def test_inconsistent_topologies_are_refused(build, kind: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TopologyError, match=needle) as raised:
        build(_topology())
    assert raised.value.kind == kind


def test_removing_something_in_use_is_refused() -> None:
    with pytest.raises(TopologyError, match="cannot remove 'edge'") as raised:
        _topology().removed("edge")
    assert raised.value.kind == "in-use"
    with pytest.raises(TopologyError, match="no record"):
        _topology().removed("ghost")


def test_fibre_latency_and_distance() -> None:
    beijing, shanghai = GeoPosition(39.90, 116.40), GeoPosition(31.23, 121.47)
    distance = beijing.distance_km(shanghai)
    assert 1050 < distance < 1090  # great-circle Beijing-Shanghai is about 1,068 km
    assert fibre_latency_ms(distance, 1.5) == pytest.approx(distance * 1.5 * 0.005)
    with pytest.raises(ValueError, match="routing_factor"):
        fibre_latency_ms(10, 0.5)


@pytest.mark.parametrize(
    ("factory", "needle"),
    [
        (lambda: Link("l", "a", "a", 1, 1), "itself"),
        (lambda: Link("l", "a", "b", 0, 1), "bandwidth_mbps"),
        (lambda: Link("l", "a", "b", 10, 1, loss_ratio=1.0), "loss_ratio"),
        (lambda: Link("l", "a", "b", 10, 1, slice_mbps=20), "slice_mbps"),
        (lambda: Node("n", "s", idle_power_w=100, peak_power_w=50), "idle_power_w"),
        (lambda: Node("n", "s", cpu_cores=-1), "cpu_cores"),
        (lambda: Accelerator(AcceleratorKind.GPU, "x", count=0), "count"),
        (lambda: GeoPosition(91, 0), "lat_deg"),
    ],
)
def test_records_refuse_impossible_values(factory, needle: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=needle):
        factory()


def test_node_peak_rates_by_kind() -> None:
    node = _topology().nodes["h1"]
    assert node.accelerator_count(AcceleratorKind.GPU) == 4
    assert node.accelerator_count(AcceleratorKind.NPU) == 0
    assert node.peak_gflops(Precision.FP16, AcceleratorKind.GPU) == 4 * 312_000.0
    assert node.peak_gflops(Precision.FP64) == 0.0
