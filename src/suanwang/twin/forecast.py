"""Demand forecasting: arrivals per task type and ingress, with diurnal and weekly seasons.

``DemandForecaster.fit(history, end_s)`` bins each key's arrival times (a key is a task type
and an ingress site) into hourly counts over the history and fits one model per key:

* two weeks of history or more: Holt-Winters exponential smoothing (statsmodels
  ``ExponentialSmoothing``) with an additive season of 168 hours, the week, whose shape holds
  the day's too (weekday and weekend days differ);
* two days or more: the same with a season of 24 hours (diurnal only);
* less: seasonal naive, the count of the same hour one day earlier (each hour's mean of the
  history when under a day).

A model whose fit fails or gives non-finite values falls back to seasonal naive. Forecasts are
counts per hour, never negative. ``arrivals`` draws a Poisson stream from the forecast (scaled
by a load factor) with the latest spec seen for each key; ``mape`` is the error measure the
benchmark reports.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanwang.model import TaskSpec

HOUR_S = 3600.0
DAY_H = 24
WEEK_H = 168
MAX_HISTORY_H = 8 * WEEK_H
"""Hours of history a model is fitted on (the newest ones): enough for weekly seasons."""
MAX_ARRIVALS = 200_000
"""Most background arrivals one draw gives (the rest of the stream is cut)."""

Key = tuple[str, str]
"""(task type, ingress site); an empty string where the spec names none."""
Arrival = tuple[float, TaskSpec, str]
"""A forecast arrival: seconds after the start, its spec and its tenant."""
FloatArray = npt.NDArray[np.float64]


def hourly_counts(times_s: npt.ArrayLike, end_s: float, hours: int) -> FloatArray:
    """Arrivals per hour in the ``hours`` hours before ``end_s`` (oldest first)."""
    times = np.asarray(times_s, dtype=np.float64)
    start_s = end_s - hours * HOUR_S
    times = times[(times >= start_s) & (times < end_s)]
    index = ((times - start_s) // HOUR_S).astype(np.intp)
    return np.bincount(index, minlength=hours).astype(np.float64)[:hours]


def seasonal_naive(counts: FloatArray, steps: int) -> FloatArray:
    """The same hour a day earlier (a week earlier with two weeks of history); mean if short."""
    season = WEEK_H if len(counts) >= 2 * WEEK_H else DAY_H
    if len(counts) >= season:
        last = counts[-season:]
        return np.resize(last, steps).astype(np.float64)
    mean = float(counts.mean()) if len(counts) else 0.0
    return np.full(steps, mean)


def holt_winters(counts: FloatArray, steps: int) -> tuple[FloatArray, str]:
    """Forecast ``steps`` hours with Holt-Winters; returns the forecast and the method used."""
    season = WEEK_H if len(counts) >= 2 * WEEK_H else DAY_H if len(counts) >= 2 * DAY_H else 0
    if season == 0 or not counts.any():
        return seasonal_naive(counts, steps), "seasonal-naive"
    from statsmodels.tsa.holtwinters import ExponentialSmoothing  # noqa: PLC0415 (slow import)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on short or flat series
            model = ExponentialSmoothing(
                counts,
                trend=None,
                seasonal="add",
                seasonal_periods=season,
                initialization_method="heuristic",
            )
            forecast = np.asarray(model.fit().forecast(steps), dtype=np.float64)
    except (ValueError, np.linalg.LinAlgError):
        return seasonal_naive(counts, steps), "seasonal-naive"
    if not np.isfinite(forecast).all():
        return seasonal_naive(counts, steps), "seasonal-naive"
    return np.maximum(forecast, 0.0), f"holt-winters-{season}h"


@dataclass(frozen=True, slots=True)
class KeyForecast:
    """One key's model: hourly forecast from ``start_s`` on and how it was made."""

    start_s: float
    per_hour: FloatArray
    method: str
    history_h: int


class DemandForecaster:
    """Hourly arrival forecasts per task type and ingress (module docstring).

    Args:
        horizon_h: Hours forecast ahead of the history's end.
    """

    def __init__(self, horizon_h: int = WEEK_H) -> None:
        if horizon_h < 1:
            raise ValueError(f"horizon_h must be at least 1, got {horizon_h}")
        self.horizon_h = horizon_h
        self.models: dict[Key, KeyForecast] = {}
        self.templates: dict[Key, TaskSpec] = {}
        self.tenants: dict[Key, str] = {}

    def fit(
        self,
        history: Mapping[Key, npt.ArrayLike],
        end_s: float,
        templates: Mapping[Key, TaskSpec] | None = None,
        first_s: float | None = None,
        tenants: Mapping[Key, str] | None = None,
    ) -> DemandForecaster:
        """Fit one model per key on arrival times before ``end_s``; returns self.

        Args:
            history: Arrival clock times per key.
            end_s: End of the history (the forecast starts at the hour it falls in).
            templates: The spec each key's forecast arrivals get.
            first_s: Start of the history (default: the earliest arrival of all keys).
            tenants: The tenant each key's forecast arrivals get (default: none, ``""``).
        """
        end_hour_s = math.floor(end_s / HOUR_S) * HOUR_S
        starts = [float(np.min(t)) for t in map(np.asarray, history.values()) if np.size(t)]
        begin_s = first_s if first_s is not None else min(starts, default=end_hour_s)
        hours = int(min(max(math.ceil((end_hour_s - begin_s) / HOUR_S), 0), MAX_HISTORY_H))
        for key, times in history.items():
            counts = hourly_counts(times, end_hour_s, hours)
            per_hour, method = holt_winters(counts, self.horizon_h + 1)
            self.models[key] = KeyForecast(end_hour_s, per_hour, method, hours)
        self.templates.update(templates or {})
        self.tenants.update(tenants or {})
        return self

    def expected(self, key: Key, start_s: float, horizon_s: float) -> FloatArray:
        """Expected arrivals of ``key`` in each hour from ``start_s`` on (zero past the model)."""
        model = self.models.get(key)
        steps = max(math.ceil(horizon_s / HOUR_S), 1)
        out = np.zeros(steps)
        if model is None:
            return out
        first = math.floor((start_s - model.start_s) / HOUR_S)
        for i in range(steps):
            at = first + i
            if 0 <= at < len(model.per_hour):
                out[i] = model.per_hour[at]
        return out

    def arrivals(
        self,
        start_s: float,
        horizon_s: float,
        *,
        load_factor: float = 1.0,
        seed: int = 0,
    ) -> list[Arrival]:
        """A Poisson draw of every templated key's forecast, ``load_factor`` times as much.

        Returns ``(seconds after start_s, spec, tenant)``, at most ``MAX_ARRIVALS``.
        """
        rng = np.random.default_rng(seed)
        out: list[Arrival] = []
        for key in sorted(self.models):
            spec = self.templates.get(key)
            if spec is None:
                continue
            tenant = self.tenants.get(key, "")
            rates = self.expected(key, start_s, horizon_s) * load_factor
            for hour, mean in enumerate(rates):
                span_s = min(HOUR_S, horizon_s - hour * HOUR_S)
                count = int(rng.poisson(mean * span_s / HOUR_S)) if mean > 0 and span_s > 0 else 0
                times = hour * HOUR_S + np.sort(rng.uniform(0.0, span_s, count))
                out.extend((float(t), spec, tenant) for t in times)
                if len(out) >= MAX_ARRIVALS:
                    return out[:MAX_ARRIVALS]
        return out


def mape(actual: Sequence[float] | FloatArray, predicted: Sequence[float] | FloatArray) -> float:
    """Mean absolute percentage error over the points whose actual value is not zero, in %."""
    a = np.asarray(actual, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if a.shape != p.shape:
        raise ValueError(f"actual and predicted differ in shape: {a.shape} and {p.shape}")
    nonzero = a != 0
    if not nonzero.any():
        raise ValueError("mape needs at least one actual value that is not zero")
    return float(np.mean(np.abs((a[nonzero] - p[nonzero]) / a[nonzero])) * 100.0)


def seasonal_rates(
    hours: int, *, base_per_h: float, diurnal: float = 0.6, weekly: float = 0.3
) -> FloatArray:
    """A seasonal synthetic demand: mean arrivals per hour over ``hours`` hours from Monday 0 h.

    The day peaks at 14 h (a cosine of relative amplitude ``diurnal``); weekend days carry
    ``1 - weekly`` of a weekday's demand.
    """
    hour = np.arange(hours)
    day = 1.0 + diurnal * np.cos(2 * np.pi * ((hour % DAY_H) - 14) / DAY_H)
    weekend = (hour % WEEK_H) >= 5 * DAY_H
    rates: FloatArray = base_per_h * day * np.where(weekend, 1.0 - weekly, 1.0)
    return rates


def synthetic_arrivals(rates_per_h: FloatArray, seed: int = 0) -> FloatArray:
    """Poisson arrival times (seconds from 0) of hourly mean ``rates_per_h``, sorted."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(np.asarray(rates_per_h, dtype=np.float64))
    starts = np.repeat(np.arange(len(counts)) * HOUR_S, counts)
    times: FloatArray = np.sort(starts + rng.uniform(0.0, HOUR_S, len(starts)))
    return times
