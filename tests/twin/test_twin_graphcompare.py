"""Single-site against decomposed placement in the twin, on the built-in graph examples.

Each example of ``docs/examples`` loads, places and runs: the video pipeline on metro-edge
(along the path toward the cloud), the parameter-server step on its pod (in-network
aggregation), the weather run on supercomputing-internet (next to its datasets).
"""

from pathlib import Path

import pytest

from suanwang.cli.graph_file import read_graph
from suanwang.model import Tier
from suanwang.scenario import resolve_scenario
from suanwang.scheduling import ClusterState
from suanwang.twin.graphcompare import GraphComparison, compare_graph

EXAMPLES = Path(__file__).resolve().parents[2] / "docs/examples"


def _compare(graph_file: str, scenario: str) -> tuple[GraphComparison, ClusterState]:
    state = ClusterState(resolve_scenario(scenario).topology)
    return compare_graph(read_graph(EXAMPLES / graph_file), state), state


def _at(comparison: GraphComparison, variant: str, state: ClusterState) -> dict[str, str]:
    data = comparison.as_data(state)
    row = next(row for row in data["variants"] if row["variant"] == variant)
    return {stage["stage"]: stage["at"] for stage in row["stages"]}


def test_video_decodes_on_the_path_detects_nearby_and_aggregates_in_the_region() -> None:
    comparison, state = _compare("video-analytics-graph.yaml", "metro-edge")
    names = [variant.name for variant in comparison.variants]
    assert names == ["single-site", "decomposed"]
    single, decomposed = (variant.run for variant in comparison.variants)
    at = _at(comparison, "decomposed", state)
    sites = state.topology.sites
    report = comparison.along_path
    assert report is not None
    for stage in ("decode", "detect", "pose"):
        assert at[stage] in report.path
        assert sites[at[stage]].tier in {Tier.ONSITE, Tier.EDGE}
    assert sites[at["aggregate"]].tier is Tier.REGION
    assert report.saved_mb_hops > 0
    assert decomposed.traffic_gb < single.traffic_gb
    budget = comparison.graph.latency_budget_ms
    assert budget is not None
    assert decomposed.end_to_end_ms <= budget


def test_allreduce_sums_in_the_network_and_no_single_site_can_run_it() -> None:
    scenario = str(EXAMPLES / "allreduce-scenario.yaml")
    comparison, state = _compare("allreduce-graph.yaml", scenario)
    assert [variant.name for variant in comparison.variants] == ["decomposed", "in-network"]
    assert comparison.single_site_error is not None
    assert "no single site" in comparison.single_site_error
    assert _at(comparison, "in-network", state)["sum"] == "spine"
    decomposed, in_network = (variant.run for variant in comparison.variants)
    assert in_network.traffic_gb < decomposed.traffic_gb
    data = comparison.as_data(state)
    assert data["single_site_error"] == comparison.single_site_error
    assert data["variants"][1]["stages"][4]["in_network"] is True


def test_weather_assimilates_next_to_each_archive_and_beats_one_centre() -> None:
    comparison, state = _compare("weather-graph.yaml", "supercomputing-internet")
    at = _at(comparison, "decomposed", state)
    assert at["assimilate-north"] == "nscc-tianjin"
    assert at["assimilate-south"] == "nscc-guangzhou"
    assert at["assimilate-southwest"] == "nscc-chengdu"
    single, decomposed = (variant.run for variant in comparison.variants)
    assert len(set(_at(comparison, "single-site", state).values())) == 1
    assert decomposed.end_to_end_ms < single.end_to_end_ms
    assert decomposed.traffic_gb < single.traffic_gb
    # The model's estimate is close to what the twin measures: only the analyses that travel
    # together share links there, which the model does not count.
    model = comparison.variants[1].model_makespan_ms
    assert model is not None
    assert model < decomposed.end_to_end_ms
    assert model == pytest.approx(decomposed.end_to_end_ms, rel=1e-3)
