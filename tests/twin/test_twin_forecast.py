"""Demand forecasting: Holt-Winters on seasonal traces, seasonal naive on short ones."""

from __future__ import annotations

import numpy as np
import pytest

from suanwang.model import TaskSpec
from suanwang.twin.forecast import (
    DAY_H,
    HOUR_S,
    WEEK_H,
    DemandForecaster,
    holt_winters,
    hourly_counts,
    mape,
    seasonal_naive,
    seasonal_rates,
    synthetic_arrivals,
)

SPEC = TaskSpec(work_gflop=1.0, ingress_site="U", task_type="video")


def test_hourly_counts_bin_the_hours_before_the_end() -> None:
    counts = hourly_counts([0.0, 10.0, 3_600.0, 7_199.0, 7_200.0, -1.0], 7_200.0, 2)
    assert counts.tolist() == [2.0, 2.0]


def test_holt_winters_beats_seasonal_naive_on_a_weekly_trace() -> None:
    rates = seasonal_rates(4 * WEEK_H, base_per_h=200.0)
    history = synthetic_arrivals(rates[: 3 * WEEK_H], seed=3)
    counts = hourly_counts(history, 3 * WEEK_H * HOUR_S, 3 * WEEK_H)
    truth = rates[3 * WEEK_H :]

    forecast, method = holt_winters(counts, WEEK_H)
    naive = seasonal_naive(counts, WEEK_H)

    assert method == f"holt-winters-{WEEK_H}h"
    assert mape(truth, forecast) < 10.0
    assert mape(truth, forecast) < mape(truth, naive)


def test_two_days_give_a_diurnal_model_and_less_gives_seasonal_naive() -> None:
    rates = seasonal_rates(3 * DAY_H, base_per_h=100.0, weekly=0.0)
    counts = hourly_counts(synthetic_arrivals(rates, seed=1), 3 * DAY_H * HOUR_S, 3 * DAY_H)
    assert holt_winters(counts, DAY_H)[1] == f"holt-winters-{DAY_H}h"
    forecast, method = holt_winters(counts[-30:], 5)
    assert method == "seasonal-naive"
    assert forecast.tolist() == counts[-DAY_H:][:5].tolist()
    assert seasonal_naive(np.array([2.0, 4.0]), 3).tolist() == [3.0, 3.0, 3.0]


def test_the_forecaster_draws_arrivals_near_the_forecast_scaled_by_the_load_factor() -> None:
    rates = seasonal_rates(2 * WEEK_H + DAY_H, base_per_h=60.0)
    end_s = len(rates) * HOUR_S
    history = {("video", "U"): synthetic_arrivals(rates, seed=5)}
    forecaster = DemandForecaster().fit(
        history, end_s, {("video", "U"): SPEC}, tenants={("video", "U"): "acme"}
    )
    expected = forecaster.expected(("video", "U"), end_s, 6 * HOUR_S)
    assert forecaster.models[("video", "U")].method == f"holt-winters-{WEEK_H}h"

    once = forecaster.arrivals(end_s, 6 * HOUR_S, seed=1)
    twice = forecaster.arrivals(end_s, 6 * HOUR_S, load_factor=2.0, seed=1)

    assert len(once) == pytest.approx(expected.sum(), rel=0.15)
    assert len(twice) == pytest.approx(2 * expected.sum(), rel=0.15)
    assert all(0 <= t < 6 * HOUR_S and spec is SPEC for t, spec, _ in once)
    assert {tenant for _, _, tenant in once} == {"acme"}  # the key's latest submitter
    # A key without a template draws nothing; an unknown key forecasts zero.
    assert DemandForecaster().fit(history, end_s).arrivals(end_s, HOUR_S) == []
    assert not forecaster.expected(("x", "y"), end_s, HOUR_S).any()


def test_mape_refuses_what_it_cannot_measure() -> None:
    assert mape([10.0, 0.0, 20.0], [11.0, 5.0, 18.0]) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="shape"):
        mape([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="not zero"):
        mape([0.0], [1.0])
