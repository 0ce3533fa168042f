"""Metric records, normalisation and aggregation registries, L1/L2 scoring."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from suanwang.measure import (
    AGGREGATORS,
    CATEGORIES,
    DEFAULT_CONFIG,
    METRIC_TYPES,
    AggregationSpec,
    Metric,
    MetricCategory,
    MetricConfig,
    MetricLevel,
    MetricSource,
    NormaliserSpec,
    Statistic,
    l1_scores,
    l2_scores,
    normalise,
    register_normaliser,
    score_band,
)
from suanwang.measure.normalise import NORMALISERS

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
positive = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False)

NORMALISER_CASES = [
    ("sigmoid", {"midpoint": 5.0, "scale": 2.0}),
    ("log_sigmoid", {"midpoint": 100.0, "decades": 1.0}),
    ("min_max", {"low": -3.0, "high": 7.0}),
    ("z_score", {"mean": 1.0, "std": 4.0}),
    ("z_score", {}),
]


@pytest.mark.parametrize(("name", "params"), NORMALISER_CASES)
@given(values=arrays(np.float64, st.integers(1, 50), elements=finite))
def test_normalisers_are_bounded_and_monotone(name, params, values):
    function = NORMALISERS[name].function
    ordered = np.sort(values)
    scored = function(ordered, params)
    assert np.all((scored >= 0.0) & (scored <= 1.0))
    assert np.all(np.diff(scored) >= -1e-12)


@pytest.mark.parametrize("metric_type", sorted(METRIC_TYPES))
@given(values=arrays(np.float64, st.integers(1, 30), elements=positive))
def test_goodness_is_bounded_and_follows_the_direction(metric_type, values):
    ordered = np.sort(values)
    scored = normalise(metric_type, ordered)
    assert np.all((scored >= 0.0) & (scored <= 1.0))
    step = np.diff(scored)
    if METRIC_TYPES[metric_type].higher_is_better:
        assert np.all(step >= -1e-12)
    else:
        assert np.all(step <= 1e-12)


def test_normalisers_by_hand():
    x = np.array([0.0, 5.0, 10.0])
    np.testing.assert_allclose(
        NORMALISERS["min_max"].function(x, {"low": 0, "high": 10}), [0, 0.5, 1]
    )
    np.testing.assert_allclose(
        NORMALISERS["sigmoid"].function(x, {"midpoint": 5, "scale": 1})[1], 0.5
    )
    np.testing.assert_allclose(
        NORMALISERS["log_sigmoid"].function(np.array([100.0, 1000.0]), {"midpoint": 100}),
        [0.5, 1 / (1 + math.exp(-1))],
    )
    np.testing.assert_allclose(NORMALISERS["z_score"].function(x, {"mean": 5, "std": 1})[1], 0.5)
    assert NORMALISERS["z_score"].function(np.array([3.0, 3.0]), {}).tolist() == [0.5, 0.5]
    assert np.isnan(NORMALISERS["min_max"].function(np.array([np.nan]), {}))[0]


AGGREGATION_CASES = [
    ("mean", [[2.0, 4.0, 9.0]], [1, 1, 1], [5.0]),
    ("min", [[2.0, 4.0, 9.0]], [1, 1, 1], [2.0]),
    ("max", [[2.0, 4.0, 9.0]], [1, 1, 1], [9.0]),
    ("weighted", [[2.0, 4.0, 9.0]], [1, 2, 1], [4.75]),
    ("mean", [[2.0, np.nan, 8.0]], [1, 1, 1], [5.0]),
    ("weighted", [[np.nan, 4.0, 8.0]], [5, 1, 3], [7.0]),
    ("min", [[np.nan, np.nan]], [1, 1], [np.nan]),
    ("mean", [[1.0, 3.0], [np.nan, 6.0]], [1, 1], [2.0, 6.0]),
]


@pytest.mark.parametrize(("name", "values", "weights", "expected"), AGGREGATION_CASES)
def test_aggregation_matches_hand_computed_cases(name, values, weights, expected):
    result = AGGREGATORS[name].function(np.array(values), np.array(weights, dtype=float))
    np.testing.assert_allclose(result, expected)


@given(
    values=arrays(
        np.float64, st.tuples(st.integers(1, 20), st.integers(1, 6)), elements=st.floats(0, 10)
    ),
    name=st.sampled_from(sorted(AGGREGATORS)),
)
def test_aggregation_lies_between_row_min_and_max(values, name):
    result = AGGREGATORS[name].function(values, np.ones(values.shape[1]))
    assert np.all(result >= values.min(axis=1) - 1e-9)
    assert np.all(result <= values.max(axis=1) + 1e-9)


@given(
    values=arrays(
        np.float64,
        st.tuples(st.integers(1, 20), st.just(len(METRIC_TYPES))),
        elements=st.one_of(st.just(np.nan), st.floats(0, 1e7)),
    ),
    aggregation=st.sampled_from(sorted(AGGREGATORS)),
)
def test_l1_and_l2_always_lie_in_0_to_10(values, aggregation):
    config = MetricConfig(
        category_aggregation=AggregationSpec(aggregation),
        score_aggregation=AggregationSpec(aggregation),
    )
    l1 = l1_scores(list(METRIC_TYPES), values, config)
    assert l1.shape == (len(values), len(CATEGORIES))
    present = l1[~np.isnan(l1)]
    assert np.all((present >= 0) & (present <= 10))
    l2 = l2_scores(l1, config)
    assert np.all((l2 >= 0) & (l2 <= 10))
    assert not np.any(np.isnan(l2))


def test_l1_groups_by_category_and_l2_aggregates_categories():
    names = ["load_ratio", "rtt_ms"]
    l1 = l1_scores(names, [[0.25, np.nan]])
    compute = CATEGORIES.index(MetricCategory.COMPUTE)
    assert l1[0, compute] == pytest.approx(7.5)
    assert np.isnan(l1[0, CATEGORIES.index(MetricCategory.COMMUNICATION)])
    assert l2_scores(l1)[0] == pytest.approx(7.5)
    both = l1_scores(names, [[0.25, 20.0]])  # rtt at its midpoint scores 5
    assert l2_scores(both)[0] == pytest.approx(6.25)
    weighted = MetricConfig(
        score_aggregation=AggregationSpec("weighted", {"compute": 3.0, "communication": 1.0})
    )
    assert l2_scores(both, weighted)[0] == pytest.approx((3 * 7.5 + 5) / 4)
    assert l2_scores(np.full((1, 4), np.nan))[0] == 0.0


def test_config_from_mapping_and_validation():
    config = MetricConfig.from_mapping(
        {
            "normalisers": {"rtt_ms": {"function": "min_max", "params": {"low": 0, "high": 100}}},
            "score_aggregation": {"function": "min"},
        }
    )
    assert normalise("rtt_ms", [25.0], config)[0] == pytest.approx(0.75)
    assert config.normalisers["cpu_cores"] == DEFAULT_CONFIG.normalisers["cpu_cores"]
    assert config.score_aggregation.function == "min"
    with pytest.raises(ValueError, match="unknown normaliser"):
        NormaliserSpec("nope")
    with pytest.raises(ValueError, match="takes no parameter"):
        NormaliserSpec("min_max", {"midpoint": 1.0})
    with pytest.raises(ValueError, match="high > low"):
        NormaliserSpec("min_max", {"low": 2.0, "high": 1.0})
    with pytest.raises(ValueError, match="positive"):
        NormaliserSpec("sigmoid", {"scale": 0.0})
    with pytest.raises(ValueError, match="unknown aggregator"):
        AggregationSpec("median")
    with pytest.raises(KeyError):
        MetricConfig(normalisers={"no_such_metric": NormaliserSpec("min_max")})
    with pytest.raises(KeyError, match="no normaliser configured"):
        normalise("rtt_ms", [1.0], MetricConfig(normalisers={}))
    same = MetricConfig.from_mapping(
        {
            "normalisers": {"rtt_ms": {"function": "min_max", "params": {"low": 0, "high": 100}}},
            "score_aggregation": {"function": "min"},
        }
    )
    assert same == config
    assert hash(same) == hash(config)


def test_registering_a_normaliser_makes_it_configurable():
    register_normaliser(
        "step_test", lambda v, p: (v >= p.get("at", 0)).astype(float), frozenset({"at"})
    )
    config = MetricConfig(normalisers={"cpu_cores": NormaliserSpec("step_test", {"at": 4})})
    assert normalise("cpu_cores", [2.0, 8.0], config).tolist() == [0.0, 1.0]
    del NORMALISERS["step_test"]


def test_metric_records_and_score_bands():
    record = Metric(
        "cpu_fp32_gflops",
        "GFLOPS",
        MetricSource.MEASURED,
        Statistic.MEAN,
        MetricLevel.L0,
        812.4,
        1.0,
        "n1",
    )
    assert record.to_dict()["source"] == "directly-measured"
    with pytest.raises(ValueError, match="score"):
        Metric("score", "score", MetricSource.AGGREGATED, Statistic.CUR, MetricLevel.L2, 11, 0)
    assert [score_band(s) for s in (0, 3.4, 3.6, 7.4, 7.6, 10)] == [
        "poor",
        "poor",
        "medium",
        "medium",
        "good",
        "good",
    ]
