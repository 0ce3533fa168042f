"""Single-site against decomposed placement of a task graph, both run in the twin.

``compare_graph`` places one graph three ways on a fresh plan of a cluster state (nothing is
reserved) and runs each through ``graphrun.run_graph``:

* ``single-site``: every stage at the one site that serves it best (``single_site_schedule``,
  over every node of the cluster up to ``FULL_MODEL_NODES`` nodes, else the prefilter's); left
  out, with the reason, where no one site can run every stage;
* ``decomposed``: ``place_graph`` (HEFT over cloud, edge and end; along-path stages on the path
  toward the cloud, stages that read datasets next to them where that pays);
* ``in-network``: the decomposed placement with its aggregate stages on network elements
  (``in_network_plan``), shown only where some stage moved.

Each variant gives the twin's end-to-end latency, makespan, traffic (GB x links) and moved
GB, with the cost model's makespan beside it; ``as_data`` is the JSON form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from suanwang.model.graph import TaskGraph
from suanwang.scheduling import ClusterState
from suanwang.scheduling.graph import GraphPlacementError, graph_costs, place_graph
from suanwang.scheduling.graph.alongpath import AlongPathReport
from suanwang.scheduling.graph.datalocal import check_datasets, with_dataset_reads
from suanwang.scheduling.graph.innetwork import (
    StagePlace,
    in_network_plan,
    node_places,
    stage_places,
)
from suanwang.scheduling.graph.singlesite import single_site_schedule
from suanwang.twin.graphrun import GraphRun, run_graph

FULL_MODEL_NODES = 5_000
"""Up to this many nodes the single-site search considers every node."""


@dataclass(frozen=True)
class GraphVariant:
    """One placement of the graph and what the twin measured of it.

    Attributes:
        name: ``single-site``, ``decomposed`` or ``in-network``.
        places: Per stage, where it ran.
        run: The twin's measurements.
        model_makespan_ms: The cost model's end-to-end estimate (None for in-network).
    """

    name: str
    places: tuple[StagePlace, ...]
    run: GraphRun
    model_makespan_ms: float | None


@dataclass(frozen=True)
class GraphComparison:
    """The variants of one graph, single-site first.

    Attributes:
        graph: The graph compared.
        variants: Its placements, each with its run.
        along_path: The decomposed placement's along-path report, if it has such stages.
        single_site_error: Why no single site can run the graph (then there is no
            ``single-site`` variant), or None.
    """

    graph: TaskGraph
    variants: tuple[GraphVariant, ...]
    along_path: AlongPathReport | None
    single_site_error: str | None = None

    def as_data(self, state: ClusterState) -> dict[str, Any]:
        """The comparison as plain data (JSON), with site or element ids per stage."""
        vertex_ids = state.routing_graph().vertex_ids
        variants = []
        for variant in self.variants:
            run = variant.run
            variants.append(
                {
                    "variant": variant.name,
                    "end_to_end_ms": run.end_to_end_ms,
                    "makespan_ms": run.makespan_ms,
                    "model_makespan_ms": variant.model_makespan_ms,
                    "traffic_gb": run.traffic_gb,
                    "moved_gb": run.moved_gb,
                    "link_mb": dict(sorted(run.link_mb.items())),
                    "stages": [
                        {
                            "stage": stage.id,
                            "where": place.where,
                            "at": vertex_ids[place.vertex],
                            "in_network": place.in_network,
                            "start_ms": run.start_ms[s],
                            "finish_ms": run.finish_ms[s],
                        }
                        for s, (stage, place) in enumerate(
                            zip(self.graph.stages, variant.places, strict=True)
                        )
                    ],
                }
            )
        data: dict[str, Any] = {
            "graph": self.graph.id,
            "ingress_site": self.graph.ingress_site,
            "variants": variants,
            "single_site_error": self.single_site_error,
        }
        if self.along_path is not None:
            report = self.along_path
            data["along_path"] = {
                "path": list(report.path),
                "traffic_mb_hops": report.traffic_mb_hops,
                "cloud_traffic_mb_hops": report.cloud_traffic_mb_hops,
                "saved_mb_hops": report.saved_mb_hops,
            }
        return data


def compare_graph(
    graph: TaskGraph,
    state: ClusterState,
    *,
    candidates_per_stage: int | None = 32,
    traffic_weight: float | None = None,
) -> GraphComparison:
    """Place ``graph`` single-site, decomposed and in-network; run each in the twin.

    Raises:
        suanwang.scheduling.graph.GraphPlacementError: A placement is impossible (named).
    """
    decomposed = place_graph(
        graph,
        state,
        candidates_per_stage=candidates_per_stage,
        traffic_weight=traffic_weight,
        reserve=False,
    )
    small = len(state.arrays.node_ids) <= FULL_MODEL_NODES
    costs = graph_costs(graph, state, None if small else candidates_per_stage)
    if any(stage.datasets for stage in graph.stages):
        check_datasets(graph, state)
        costs = with_dataset_reads(graph, costs, state)
    variants: list[GraphVariant] = []
    single_site_error = None
    try:
        single = single_site_schedule(graph, costs, traffic_weight or 0.0)
    except GraphPlacementError as refused:
        single_site_error = str(refused)
    else:
        single_places = node_places(graph, costs, single.position.tolist(), state)
        run = run_graph(graph, single_places, state)
        variants.append(GraphVariant("single-site", single_places, run, single.makespan_ms))
    decomposed_places = stage_places(graph, decomposed, state)
    variants += [
        GraphVariant(
            "decomposed",
            decomposed_places,
            run_graph(graph, decomposed_places, state),
            decomposed.makespan_ms,
        ),
    ]
    plan = in_network_plan(graph, decomposed, state)
    if plan.moved:
        variants.append(
            GraphVariant("in-network", plan.places, run_graph(graph, plan.places, state), None)
        )
    return GraphComparison(graph, tuple(variants), decomposed.along_path, single_site_error)
