"""Placing task graphs: HEFT on a hand-checked instance, the MILP's optimum, budgets and ledger.

The hand instance: ingress U; site A 1 ms away over 1,000 Mbps with node ``a`` (8 cores,
1,000 GFLOPS fp32); site B 10 ms away over 100 Mbps with node ``b`` (8 cores, 4,000 GFLOPS).
A warm 10 GFLOP stage on 4 cores runs at 1,000 x 0.4 (CPU inference efficiency) x 4/8 = 200
GFLOPS on ``a`` (50 ms) and 800 on ``b`` (12.5 ms). One MB takes 8 ms over 1,000 Mbps and 80 ms
over 100 Mbps; a to b is 11 ms over U at 100 Mbps.
"""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanwang.model import (
    Accelerator,
    AcceleratorKind,
    AcceleratorNeed,
    Link,
    Node,
    Precision,
    Site,
    Tier,
    Topology,
)
from suanwang.model.graph import Edge, Stage, TaskGraph
from suanwang.scenario.generate import generate_scenario
from suanwang.scheduling import ClusterState, Reservation
from suanwang.scheduling.graph import (
    GraphCosts,
    GraphPlacementError,
    GraphRefusedError,
    GraphSchedule,
    evaluate,
    graph_costs,
    heft,
    list_schedule,
    place_graph,
    release_graph,
    solve_exact,
)
from suanwang.scheduling.graph.instances import (
    GRAPH_SHAPES,
    TOPOLOGY_SHAPES,
    layered_graph,
    random_graph,
    small_topology,
)

FP32 = Precision.FP32


def _hand_topology(price_per_hour: float = 0.0) -> Topology:
    sites = [Site("U", Tier.TERMINAL), Site("A", Tier.EDGE), Site("B", Tier.HUB)]
    nodes = [
        Node(
            "a",
            "A",
            cpu_cores=8,
            mem_gib=16.0,
            cpu_peak_gflops={FP32: 1_000.0},
            price_per_hour=price_per_hour,
        ),
        Node(
            "b",
            "B",
            cpu_cores=8,
            mem_gib=16.0,
            cpu_peak_gflops={FP32: 4_000.0},
            price_per_hour=price_per_hour,
        ),
    ]
    links = [Link("u-a", "U", "A", 1_000.0, 1.0), Link("u-b", "U", "B", 100.0, 10.0)]
    return Topology(sites, nodes, links=links)


def _chain(cores: float = 4.0, **terms: float) -> TaskGraph:
    return TaskGraph(
        "g",
        (Stage("s0", 10.0, cpu_cores=cores, input_mb=1.0), Stage("s1", 10.0, cpu_cores=cores)),
        (Edge("s0", "s1", data_mb=5.0),),
        ingress_site="U",
        **terms,  # type: ignore[arg-type]
    )


def _node_ids(costs: GraphCosts, schedule: GraphSchedule, topology: Topology) -> list[str]:
    ids = topology.arrays.node_ids
    return [ids[int(costs.nodes[p])] for p in schedule.position]


def test_heft_on_the_hand_instance_keeps_the_chain_near_the_ingress() -> None:
    topology = _hand_topology()
    graph = _chain()
    costs = graph_costs(graph, ClusterState(topology))
    schedule = heft(graph, costs)
    # Input 1 + 8 ms, two stages of 50 ms on a, 1 ms back: 110 ms. All on b is 125 ms, and
    # splitting costs the 5 MB crossing at 100 Mbps (400 ms).
    assert _node_ids(costs, schedule, topology) == ["a", "a"]
    assert schedule.start_ms.tolist() == pytest.approx([9.0, 59.0])
    assert schedule.finish_ms.tolist() == pytest.approx([59.0, 109.0])
    assert schedule.makespan_ms == pytest.approx(110.0)
    assert schedule.traffic_mb_hops == pytest.approx(1.0)  # the input over one link
    assert schedule.wan_mb == pytest.approx(1.0)
    exact = solve_exact(graph, costs)
    assert exact.proven
    assert exact.schedule.makespan_ms == pytest.approx(110.0)


def test_capacity_splits_the_chain_and_the_milp_agrees() -> None:
    topology = _hand_topology()
    graph = _chain(cores=6.0)  # two 6-core stages do not fit one 8-core node
    costs = graph_costs(graph, ClusterState(topology))
    # 6 of 8 cores: 300 GFLOPS on a (33.3 ms), 1,200 on b (8.3 ms). a then b: 9 + 33.3 +
    # 11 + 400 + 8.3 + 10 back = 471.7 ms; b then a: 90 + 8.3 + 411 + 33.3 + 1 = 543.7 ms.
    schedule = heft(graph, costs)
    assert _node_ids(costs, schedule, topology) == ["a", "b"]
    assert schedule.makespan_ms == pytest.approx(9 + 100 / 3 + 411 + 25 / 3 + 10)
    assert schedule.traffic_mb_hops == pytest.approx(1.0 + 5.0 * 2)
    exact = solve_exact(graph, costs)
    assert exact.proven
    assert exact.schedule.makespan_ms == pytest.approx(schedule.makespan_ms)


def test_cpu_stages_leave_the_cores_a_later_gpu_stage_needs() -> None:
    gpu = Accelerator(AcceleratorKind.GPU, "gpu", 1, {Precision.FP16: 50_000.0}, 16.0, 70.0)
    topology = Topology(
        [Site("U", Tier.TERMINAL), Site("A", Tier.EDGE)],
        [
            # The GPU box is also the faster CPU, but has one core.
            Node(
                "g",
                "A",
                cpu_cores=1,
                mem_gib=8.0,
                cpu_peak_gflops={FP32: 4_000.0},
                accelerators=(gpu,),
            ),
            Node("c", "A", cpu_cores=4, mem_gib=8.0, cpu_peak_gflops={FP32: 400.0}),
        ],
        links=[Link("u-a", "U", "A", 1_000.0, 1.0)],
    )
    graph = TaskGraph(
        "g",
        (
            Stage("prepare", 10.0, cpu_cores=1.0, input_mb=1.0),
            Stage(
                "infer",
                100.0,
                Precision.FP16,
                cpu_cores=1.0,
                accelerator=AcceleratorNeed(AcceleratorKind.GPU),
            ),
        ),
        (Edge("prepare", "infer", data_mb=1.0),),
        ingress_site="U",
    )
    placement = place_graph(graph, ClusterState(topology))
    assert placement.node_ids == ("c", "g")


def test_a_traffic_weight_trades_latency_for_traffic() -> None:
    # U - A - B in a line, 1 ms and 10,000 Mbps a link; a at A (50 ms of work), b at B (12.5 ms).
    topology = Topology(
        [Site("U", Tier.TERMINAL), Site("A", Tier.EDGE), Site("B", Tier.REGION)],
        [
            Node("a", "A", cpu_cores=8, mem_gib=16.0, cpu_peak_gflops={FP32: 1_000.0}),
            Node("b", "B", cpu_cores=8, mem_gib=16.0, cpu_peak_gflops={FP32: 4_000.0}),
        ],
        links=[Link("u-a", "U", "A", 10_000.0, 1.0), Link("a-b", "A", "B", 10_000.0, 1.0)],
    )
    graph = TaskGraph("g", (Stage("s", 10.0, cpu_cores=4.0, input_mb=10.0),), ingress_site="U")
    costs = graph_costs(graph, ClusterState(topology))
    fast = heft(graph, costs)  # b: 2 + 8 + 12.5 + 2 = 24.5 ms, 10 MB over two links
    assert _node_ids(costs, fast, topology) == ["b"]
    assert (fast.makespan_ms, fast.traffic_mb_hops) == pytest.approx((24.5, 20.0))
    # At 10 ms a MB x hop, a (60 ms + 100) beats b (24.5 ms + 200).
    near = heft(graph, costs, traffic_weight=10.0)
    assert _node_ids(costs, near, topology) == ["a"]
    assert (near.makespan_ms, near.traffic_mb_hops) == pytest.approx((60.0, 10.0))


def test_a_stage_no_node_can_run_is_named() -> None:
    graph = TaskGraph(
        "g",
        (Stage("gpu-stage", 10.0, accelerator=AcceleratorNeed(AcceleratorKind.GPU)),),
        ingress_site="U",
    )
    with pytest.raises(GraphPlacementError, match="stage 'gpu-stage' fits no node"):
        graph_costs(graph, ClusterState(_hand_topology()))


def test_a_graph_without_an_ingress_cannot_be_placed() -> None:
    graph = TaskGraph("g", (Stage("s", 1.0),))
    with pytest.raises(GraphPlacementError, match="ingress_site is needed"):
        place_graph(graph, ClusterState(_hand_topology()))


def test_place_graph_reserves_every_stage_and_release_gives_them_back() -> None:
    topology = _hand_topology()
    state = ClusterState(topology)
    placement = place_graph(_chain(), state)
    assert placement.node_ids == ("a", "a")
    assert placement.makespan_ms == pytest.approx(110.0)
    held = state.reservations.held("g/s1")
    assert held is not None
    assert (held.node, held.cpu_cores) == (topology.arrays.node_ids.index("a"), 4.0)
    assert state.reservations.free_cpu_cores().tolist() == [0.0, 8.0]
    # The next graph finds a full: it goes to b (125 ms) under another id.
    other = place_graph(TaskGraph("h", _chain().stages, _chain().edges, "U"), state)
    assert other.node_ids == ("b", "b")
    assert release_graph(_chain(), state) == 2
    assert state.reservations.free_cpu_cores().tolist() == [8.0, 0.0]


def test_a_missed_latency_budget_is_refused_and_nothing_is_held() -> None:
    state = ClusterState(_hand_topology())
    with pytest.raises(GraphRefusedError, match=r"makespan 110\.000 ms exceeds latency_budget"):
        place_graph(_chain(latency_budget_ms=100.0), state)
    assert len(state.reservations) == 0
    assert place_graph(_chain(latency_budget_ms=110.5), state).reserved


def test_a_missed_price_budget_is_refused() -> None:
    # 36,000 an hour for half the node for 50 ms: 0.25 a stage.
    state = ClusterState(_hand_topology(price_per_hour=36_000.0))
    with pytest.raises(GraphRefusedError, match=r"price 0\.5 exceeds budget 0\.4"):
        place_graph(_chain(budget=0.4), state)
    assert len(state.reservations) == 0
    assert place_graph(_chain(budget=0.6), state).schedule.cost == pytest.approx(0.5)


def test_stages_keep_within_room_already_reserved() -> None:
    topology = _hand_topology()
    state = ClusterState(topology)
    state.reservations.reserve(Reservation("other", 0, cpu_cores=6.0, mem_gib=1.0))
    placement = place_graph(_chain(), state)  # 2 cores left on a: both stages go to b
    assert placement.node_ids == ("b", "b")
    assert placement.makespan_ms == pytest.approx(125.0)


def _brute_force(graph: TaskGraph, costs: GraphCosts) -> float:
    best = np.inf
    for position in itertools.product(*(c.tolist() for c in costs.candidates)):
        used = np.zeros_like(costs.free)
        for s, p in enumerate(position):
            used[p] += costs.demand[s]
        if (used <= costs.free + 1e-9).all():
            best = min(best, evaluate(graph, costs, position).makespan_ms)
    return float(best)


@pytest.mark.parametrize("seed", range(6))
def test_milp_finds_the_brute_force_optimum_and_heft_is_never_below(seed: int) -> None:
    shape = GRAPH_SHAPES[seed % len(GRAPH_SHAPES)]
    topology = small_topology(TOPOLOGY_SHAPES[seed % len(TOPOLOGY_SHAPES)], 4, seed)
    graph = random_graph(shape, 5, seed)
    costs = graph_costs(graph, ClusterState(topology))
    exact = solve_exact(graph, costs)
    assert exact.proven
    assert exact.bound_ms == pytest.approx(exact.schedule.makespan_ms)
    assert exact.schedule.makespan_ms == pytest.approx(_brute_force(graph, costs), rel=1e-6)
    both = [heft(graph, costs, lookahead=lookahead).makespan_ms for lookahead in (True, False)]
    for makespan in both:
        assert makespan >= exact.schedule.makespan_ms * (1 - 1e-6)
    assert list_schedule(graph, costs).makespan_ms == pytest.approx(min(both))


def test_the_milp_under_a_time_limit_gives_a_bound_below_its_placement() -> None:
    graph = random_graph("random", 14, 5)
    costs = graph_costs(graph, ClusterState(small_topology("mesh", 8, 5)))
    exact = solve_exact(graph, costs, time_limit_s=0.05)
    assert 0.0 < exact.bound_ms <= exact.schedule.makespan_ms * (1 + 1e-9)
    if not exact.proven:
        assert exact.bound_ms < exact.schedule.makespan_ms
    assert exact.schedule.makespan_ms >= solve_exact(graph, costs).schedule.makespan_ms * (1 - 1e-6)


def _check_schedule(graph: TaskGraph, costs: GraphCosts, schedule: GraphSchedule) -> None:
    """Precedence with communication, entry input, exits' results, and capacity."""
    site = costs.node_site[schedule.position]
    tolerance = 1e-6
    for k, (u, v) in enumerate(graph.ends):
        comm = costs.comm_ms(int(site[u]), site[[v]], float(costs.edge_data_mb[k]))[0]
        assert schedule.start_ms[v] >= schedule.finish_ms[u] + comm - tolerance
    for s in graph.entries:
        comm = costs.comm_ms(costs.ingress, site[[s]], float(costs.input_mb[s]))[0]
        assert schedule.start_ms[s] >= comm - tolerance
    for s in range(len(graph.stages)):
        compute = costs.compute_ms[s, schedule.position[s]]
        assert np.isfinite(compute)
        assert schedule.finish_ms[s] == pytest.approx(schedule.start_ms[s] + compute)
    for s in graph.exits:
        back = costs.comm_ms(int(site[s]), np.array([costs.ingress]), float(costs.result_mb[s]))
        assert schedule.makespan_ms >= schedule.finish_ms[s] + back[0] - tolerance
    used = np.zeros_like(costs.free)
    np.add.at(used, schedule.position, costs.demand)
    assert (used <= costs.free + 1e-9).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.sampled_from(GRAPH_SHAPES),
    topology_shape=st.sampled_from(TOPOLOGY_SHAPES),
    stages=st.integers(1, 14),
    nodes=st.integers(2, 8),
    seed=st.integers(0, 10_000),
    held_cores=st.floats(0.0, 3.0),
)
def test_schedules_respect_precedence_and_capacity(
    *, shape: str, topology_shape: str, stages: int, nodes: int, seed: int, held_cores: float
) -> None:
    topology = small_topology(topology_shape, nodes, seed)
    state = ClusterState(topology)
    state.reservations.reserve(Reservation("busy", 0, cpu_cores=held_cores, mem_gib=0.0))
    graph = random_graph(shape, stages, seed)
    try:
        placement = place_graph(graph, state, candidates_per_stage=None)
    except GraphPlacementError:
        return  # more GPU stages than devices, or no room left: refused whole
    _check_schedule(graph, placement.costs, placement.schedule)
    ledger = state.reservations
    arrays = topology.arrays
    assert (ledger.cpu_cores <= arrays.node_cpu_cores + 1e-9).all()
    assert (ledger.mem_gib <= arrays.node_mem_gib + 1e-9).all()
    assert len(ledger) == 1 + len(graph.stages)


def test_the_prefiltered_path_places_a_layered_graph_on_a_generated_network() -> None:
    scenario = generate_scenario(1_000, 3)
    state = ClusterState(scenario.topology)
    graph = layered_graph(120, 12, 3, "terminal-0")
    placement = place_graph(graph, state, candidates_per_stage=8)
    costs = placement.costs
    assert costs.nodes.size < len(scenario.topology.nodes)
    assert max(c.size for c in costs.candidates) < costs.nodes.size
    _check_schedule(graph, costs, placement.schedule)
    assert len(state.reservations) == len(graph.stages)
    ledger, arrays = state.reservations, scenario.topology.arrays
    assert (ledger.cpu_cores <= arrays.node_cpu_cores + 1e-9).all()
    assert (ledger.accelerators <= arrays.node_accel_count + 1e-9).all()
    assert placement.schedule.traffic_mb_hops >= placement.schedule.wan_mb > 0
