"""Forecast benchmark: the demand forecaster's error (MAPE) on a seasonal synthetic trace.

The trace (``twin.forecast.seasonal_rates``): hourly mean arrivals with a diurnal cosine
(relative amplitude 0.6, peak at 14 h) and weekends at 0.7 of a weekday, drawn as Poisson
arrivals (``synthetic_arrivals``) over four weeks. Each forecaster is fitted on the first three
weeks and forecasts the fourth, hour by hour; MAPE is taken against the trace's true mean rate
and against the counts drawn in that week (which adds the Poisson noise no forecaster can
predict). Forecasters: the one ``DemandForecaster`` uses (Holt-Winters, 168 h season, from
statsmodels), the same with a 24 h season, and seasonal naive (the same hour a week earlier).
Rows per base rate (arrivals per hour); figures are the median over ``--runs`` seeds.

Run: ``.venv/bin/python -m benchmarks.bench_forecast [--runs N] [--quick]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from importlib import metadata

import numpy as np

from suanwang.twin.forecast import (
    DAY_H,
    HOUR_S,
    WEEK_H,
    hourly_counts,
    mape,
    seasonal_naive,
    seasonal_rates,
    synthetic_arrivals,
)

BASES_PER_H = (20.0, 200.0)


def _holt_winters(counts: np.ndarray, season: int) -> np.ndarray:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing  # noqa: PLC0415

    model = ExponentialSmoothing(
        counts, seasonal="add", seasonal_periods=season, initialization_method="heuristic"
    )
    return np.maximum(np.asarray(model.fit().forecast(WEEK_H)), 0.0)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one seed")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs
    print(
        f"{'base/h':>7} {'forecaster':<22} {'MAPE mean %':>11} {'MAPE counts %':>13} {'fit s':>6}"
    )
    for base in BASES_PER_H:
        rates = seasonal_rates(4 * WEEK_H, base_per_h=base)
        truth = rates[3 * WEEK_H :]
        rows: dict[str, list[tuple[float, float, float]]] = {}
        for seed in range(runs):
            arrivals = synthetic_arrivals(rates, seed=seed)
            counts = hourly_counts(arrivals, 4 * WEEK_H * HOUR_S, 4 * WEEK_H)
            history, future = counts[: 3 * WEEK_H], counts[3 * WEEK_H :]
            for name, make in (
                ("holt-winters 168 h", lambda h: _holt_winters(h, WEEK_H)),
                ("holt-winters 24 h", lambda h: _holt_winters(h, DAY_H)),
                ("seasonal naive 168 h", lambda h: seasonal_naive(h, WEEK_H)),
            ):
                start = time.perf_counter()
                forecast = make(history)
                took = time.perf_counter() - start
                rows.setdefault(name, []).append(
                    (mape(truth, forecast), mape(future, forecast), took)
                )
        for name, figures in rows.items():
            mean_err, count_err, took = (statistics.median(f[i] for f in figures) for i in range(3))
            print(f"{base:7.0f} {name:<22} {mean_err:11.1f} {count_err:13.1f} {took:6.2f}")
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("numpy", "statsmodels"))
    print(f"# Python {platform.python_version()}, {versions}; {runs} seeds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
