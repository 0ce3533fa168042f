"""The twin's sharded mode against its unsharded baseline on the same arrivals."""

from __future__ import annotations

import pytest

from suanwang.model import Scenario
from suanwang.scenario.generate import generate_scenario
from suanwang.twin.errors import TwinError
from suanwang.twin.shards import ShardRunConfig, run_shards


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return generate_scenario(1_000, seed=2)


def _config(**fields: object) -> ShardRunConfig:
    base = {"max_tasks": 400, "seed": 5, "start_hour": 20.0}
    return ShardRunConfig(**{**base, **fields})  # type: ignore[arg-type]


def test_sharded_and_unsharded_runs_decide_the_same_arrivals(scenario: Scenario) -> None:
    sharded = run_shards(scenario, _config())
    whole = run_shards(scenario, _config(sharded=False))
    assert sharded.shards > 1
    assert whole.shards == 1
    for result in (sharded, whole):
        assert result.tasks == 400
        assert 0 < result.placed <= result.tasks
        assert result.sla_met <= result.placed
        assert sum(result.placed_per_shard) == result.placed
        assert result.latency_ms_sum > 0
        assert result.cost_sum > 0
        assert result.decide_wall_s > 0
        assert result.wall_s >= result.decide_wall_s
    assert whole.beyond_home == 0
    assert whole.asked_max == 1
    assert whole.asked_sum == 400
    assert 1 <= sharded.asked_max <= 3
    assert sharded.asked_sum >= 400
    assert sharded.beyond_home <= sharded.placed
    assert sum(1 for placed in sharded.placed_per_shard if placed) > 1


def test_a_run_is_deterministic_for_a_seed_and_bounded_by_max_shards(scenario: Scenario) -> None:
    first, again = run_shards(scenario, _config()), run_shards(scenario, _config())
    assert (first.placed, first.sla_met, first.placed_per_shard, first.asked_sum) == (
        again.placed,
        again.sla_met,
        again.placed_per_shard,
        again.asked_sum,
    )
    assert first.latency_ms_sum == pytest.approx(again.latency_ms_sum)
    home_only = run_shards(scenario, _config(max_shards=1))
    assert home_only.asked_max == 1
    assert home_only.beyond_home == 0
    assert home_only.placed <= first.placed


def test_bad_settings_are_refused_naming_the_field_and_value(scenario: Scenario) -> None:
    with pytest.raises(TwinError, match="max_tasks must be at least 1, got 0"):
        run_shards(scenario, _config(max_tasks=0))
    with pytest.raises(TwinError, match="max_shards must be at least 1, got 0"):
        run_shards(scenario, _config(max_shards=0))
    with pytest.raises(TwinError, match="profile 'no-such'"):
        run_shards(scenario, _config(profile="no-such"))
