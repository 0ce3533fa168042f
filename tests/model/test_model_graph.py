"""Task graphs: validation (each error names the field and the value) and topological order."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.model import AcceleratorKind, AcceleratorNeed
from suanwang.model.graph import Edge, GraphError, Stage, StageKind, TaskGraph


def _stages(*ids: str) -> tuple[Stage, ...]:
    return tuple(Stage(stage_id, 1.0) for stage_id in ids)


def test_order_puts_parents_first_and_ratios_resolve_in_order() -> None:
    graph = TaskGraph(
        "g",
        (Stage("sink", 1.0, result_mb=2.0), Stage("mid", 5.0), Stage("src", 10.0, input_mb=100.0)),
        (
            Edge("src", "mid", reduction_ratio=0.1),
            Edge("mid", "sink", reduction_ratio=0.5),
            Edge("src", "sink", data_mb=3.0),
        ),
        ingress_site="user",
    )
    ids = [graph.stages[s].id for s in graph.order]
    assert ids == ["src", "mid", "sink"]
    # src takes in 100 MB and sends a tenth to mid; mid takes in 10 MB and sends half on.
    assert graph.edge_data_mb == (10.0, 5.0, 3.0)
    assert graph.entries == (2,)
    assert graph.exits == (0,)
    assert graph.parents[0] == (1, 2)
    assert graph.children[2] == (0, 2)
    assert graph.ends == ((2, 1), (1, 0), (2, 0))
    assert graph.index_of("mid") == 1


def test_a_stage_with_input_from_the_ingress_is_an_entry_even_with_parents() -> None:
    graph = TaskGraph(
        "g", (Stage("a", 1.0), Stage("b", 1.0, input_mb=4.0)), (Edge("a", "b", data_mb=1.0),)
    )
    assert graph.entries == (0, 1)
    assert graph.exits == (1,)


def test_stage_spec_carries_the_demand() -> None:
    need = AcceleratorNeed(AcceleratorKind.GPU, 2)
    stage = Stage("s", 30.0, cpu_cores=2.0, mem_gib=8.0, accelerator=need, input_mb=1.5)
    spec = stage.spec
    assert (spec.work_gflop, spec.cpu_cores, spec.mem_gib) == (30.0, 2.0, 8.0)
    assert spec.accelerator == need
    assert spec.data_in_mb == 1.5


def test_a_cycle_is_named() -> None:
    with pytest.raises(GraphError, match=r"edges form a cycle: a -> b -> c -> a"):
        TaskGraph(
            "g",
            _stages("d", "a", "b", "c"),
            (Edge("d", "a"), Edge("a", "b"), Edge("b", "c"), Edge("c", "a")),
        )


def test_a_self_loop_is_a_cycle() -> None:
    with pytest.raises(GraphError, match="cycle: a -> a"):
        TaskGraph("g", _stages("a"), (Edge("a", "a"),))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: TaskGraph("g", _stages("a"), (Edge("a", "zz"),)),
            r"edges\[0\]\.dst names no stage, got 'zz'",
        ),
        (
            lambda: TaskGraph("g", _stages("a", "b"), (Edge("a", "b"), Edge("q", "b"))),
            r"edges\[1\]\.src names no stage, got 'q'",
        ),
        (lambda: TaskGraph("g", _stages("a", "a")), r"stages\[1\]\.id repeats 'a'"),
        (
            lambda: TaskGraph("g", _stages("a", "b"), (Edge("a", "b"), Edge("a", "b"))),
            r"edges\[1\] repeats a->b",
        ),
        (lambda: TaskGraph("g", ()), r"stages must not be empty"),
        (lambda: TaskGraph("", _stages("a")), r"graph id must not be empty"),
        (
            lambda: TaskGraph("g", _stages("a"), latency_budget_ms=0.0),
            r"latency_budget_ms must be positive, got 0\.0",
        ),
        (lambda: TaskGraph("g", _stages("a"), budget=-1.0), r"budget must be positive, got -1"),
        (
            lambda: TaskGraph(
                "g", (Stage("a", 1.0, result_mb=1.0), Stage("b", 1.0)), (Edge("a", "b"),)
            ),
            r"stage 'a' has children, so its result_mb must be 0, got 1\.0",
        ),
        (lambda: Edge("a", "b", data_mb=-1.0), r"edge a->b: data_mb .* got -1\.0"),
        (lambda: Edge("a", "b", data_mb=math.nan), r"data_mb .* got nan"),
        (
            lambda: Edge("a", "b", reduction_ratio=-0.5),
            r"edge a->b: reduction_ratio .* got -0\.5",
        ),
        (
            lambda: Edge("a", "b", data_mb=2.0, reduction_ratio=0.5),
            r"give data_mb or reduction_ratio, not both",
        ),
        (lambda: Stage("s", -1.0), r"stage 's': work_gflop .* got -1\.0"),
        (lambda: Stage("s", 1.0, mem_gib=-2.0), r"stage 's': mem_gib .* got -2\.0"),
        (lambda: Stage("s", 1.0, input_mb=math.inf), r"stage 's': input_mb .* got inf"),
        (lambda: Stage("", 1.0), r"stage id must not be empty"),
        (
            lambda: Stage("s", 1.0, kind=StageKind.AGGREGATE),
            r"stage 's': an aggregate stage needs reduction_ratio in \[0, 1\], got None",
        ),
        (
            lambda: Stage("s", 1.0, kind=StageKind.AGGREGATE, reduction_ratio=1.5),
            r"reduction_ratio in \[0, 1\], got 1\.5",
        ),
        (
            lambda: Stage("s", 1.0, reduction_ratio=0.5),
            r"stage 's': reduction_ratio is for kind 'aggregate', got kind 'compute'",
        ),
        (
            lambda: Stage(
                "s",
                1.0,
                kind=StageKind.AGGREGATE,
                reduction_ratio=0.5,
                accelerator=AcceleratorNeed(AcceleratorKind.GPU),
            ),
            r"stage 's': an aggregate stage runs on CPU, got accelerator gpu",
        ),
        (
            lambda: Stage("s", 1.0, kind="reduce"),  # type: ignore[arg-type]
            r"stage 's': kind must be one of \['compute', 'aggregate'\], got 'reduce'",
        ),
    ],
)
def test_invalid_graphs_name_field_and_value(build: object, message: str) -> None:
    with pytest.raises(GraphError, match=message):
        build()  # type: ignore[operator]


@st.composite
def _dags(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]], list[int]]:
    n = draw(st.integers(1, 12))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] < p[1]),
            unique=True,
            max_size=30,
        )
    )
    names = draw(st.permutations(list(range(n))))
    return n, pairs, list(names)


@settings(max_examples=60, deadline=None)
@given(_dags())
def test_order_is_topological_for_random_dags(
    dag: tuple[int, list[tuple[int, int]], list[int]],
) -> None:
    n, pairs, names = dag
    stages = tuple(Stage(f"s{names[i]}", 1.0, input_mb=1.0) for i in range(n))
    edges = tuple(Edge(f"s{names[i]}", f"s{names[j]}", reduction_ratio=0.5) for i, j in pairs)
    graph = TaskGraph("g", stages, edges)
    at = {s: k for k, s in enumerate(graph.order)}
    assert sorted(graph.order) == list(range(n))
    for u, v in graph.ends:
        assert at[u] < at[v]
    for k, (u, _) in enumerate(graph.ends):
        taken_in = 1.0 + sum(graph.edge_data_mb[e] for e in graph.parents[u])
        assert graph.edge_data_mb[k] == pytest.approx(0.5 * taken_in)


def test_an_aggregate_sends_its_ratio_of_its_input_unless_an_edge_names_its_own() -> None:
    graph = TaskGraph(
        "ps",
        (
            Stage("w1", 1.0, input_mb=1.0),
            Stage("w2", 1.0, input_mb=1.0),
            Stage("sum", 1.0, kind=StageKind.AGGREGATE, reduction_ratio=0.25),
            Stage("update", 1.0),
            Stage("log", 1.0),
            Stage("audit", 1.0),
        ),
        (
            Edge("w1", "sum", data_mb=100.0),
            Edge("w2", "sum", data_mb=60.0),
            Edge("sum", "update"),
            Edge("sum", "log", data_mb=2.0),
            Edge("sum", "audit", reduction_ratio=0.5),
        ),
    )
    assert graph.edge_data_mb[2:] == pytest.approx((40.0, 2.0, 80.0))
    assert graph.stages[2].spec.datasets == ()


def test_datasets_and_along_path_reach_the_spec_and_the_policy() -> None:
    stage = Stage("s", 1.0, datasets=("obs",), along_path=True)
    assert stage.spec.datasets == ("obs",)
    graph = TaskGraph("g", (Stage("a", 1.0), stage), (Edge("a", "s"),))
    assert [graph.runs_along_path(s) for s in range(2)] == [False, True]
    policy = TaskGraph("g", graph.stages, graph.edges, along_path=True)
    assert [policy.runs_along_path(s) for s in range(2)] == [True, True]
