"""Registries of normalisation and aggregation functions, and the functions they build on.

A *normaliser* maps raw L0 values onto [0, 1], monotone non-decreasing in the value; the metric's
direction (``MetricSpec.higher_is_better``) is applied afterwards by ``scoring``, so the same
function serves rates and costs. An *aggregator* combines the columns of an ``(n, k)`` array of
[0, 1] or 0–10 values into one value per row, ignoring missing (NaN) entries.

Every function works on whole numpy arrays; none loops over values in Python. New functions are
added with ``register_normaliser`` / ``register_aggregator`` and picked by name in a
``MetricConfig`` (see ``suanwang.measure.scoring``), which is how the CATS consistency rule is kept:
every component scores with the same named functions and parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
from scipy.special import expit, ndtr

FloatArray: TypeAlias = npt.NDArray[np.float64]

NormaliseFn: TypeAlias = Callable[[FloatArray, Mapping[str, float]], FloatArray]
"""``fn(values, params) -> values in [0, 1]``; NaN in gives NaN out; monotone non-decreasing."""

AggregateFn: TypeAlias = Callable[[FloatArray, FloatArray], FloatArray]
"""``fn(values (n, k), weights (k,)) -> (n,)``; NaN entries are ignored; an all-NaN row gives NaN.

The result lies between the row's smallest and largest present value.
"""


@dataclass(frozen=True, slots=True)
class Registered:
    """A registered function with the parameter names it accepts."""

    function: Callable[..., FloatArray]
    params: frozenset[str]


NORMALISERS: dict[str, Registered] = {}
"""Normalisation functions by name."""

AGGREGATORS: dict[str, Registered] = {}
"""Aggregation functions by name."""


def register_normaliser(name: str, function: NormaliseFn, params: frozenset[str]) -> None:
    """Make ``function`` available to configurations as ``name``.

    Args:
        name: Registry name.
        function: ``fn(values, params)``; must return values in [0, 1], monotone
            non-decreasing in ``values``, NaN for NaN.
        params: Parameter names it accepts (a configuration naming another is refused).
    """
    NORMALISERS[name] = Registered(function, params)


def register_aggregator(name: str, function: AggregateFn) -> None:
    """Make ``function`` available to configurations as ``name`` (contract: see ``AggregateFn``)."""
    AGGREGATORS[name] = Registered(function, frozenset({"weights"}))


def sigmoid(values: FloatArray, params: Mapping[str, float]) -> FloatArray:
    """Logistic curve ``1 / (1 + exp(-(x - midpoint) / scale))``.

    Params: ``midpoint`` (value scoring 0.5, default 0), ``scale`` (> 0, default 1): the distance
    from the midpoint at which the output reaches 0.73.
    """
    midpoint, scale = params.get("midpoint", 0.0), params.get("scale", 1.0)
    return np.asarray(expit((values - midpoint) / scale), dtype=np.float64)


def log_sigmoid(values: FloatArray, params: Mapping[str, float]) -> FloatArray:
    """Logistic curve over ``log10(x)``: for rates and capacities that span decades.

    Params: ``midpoint`` (> 0, the value scoring 0.5), ``decades`` (> 0, default 1): a value
    ``10**decades`` times the midpoint scores 0.73. Values <= 0 score 0.
    """
    midpoint, decades = params.get("midpoint", 1.0), params.get("decades", 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = (np.log10(np.maximum(values, 0.0)) - np.log10(midpoint)) / decades
    return np.asarray(expit(exponent), dtype=np.float64)


def min_max(values: FloatArray, params: Mapping[str, float]) -> FloatArray:
    """Linear from ``low`` (0) to ``high`` (1), clipped.

    Params: ``low`` (default 0) and ``high`` (default 1, > ``low``).
    """
    low, high = params.get("low", 0.0), params.get("high", 1.0)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def z_score(values: FloatArray, params: Mapping[str, float]) -> FloatArray:
    """Standard normal CDF of the z-score ``(x - mean) / std``: bounded in [0, 1].

    Params: ``mean`` and ``std`` of the reference population. When absent they are taken from
    ``values`` itself (a score relative to the nodes scored together); a zero spread scores 0.5.
    """
    present = values[~np.isnan(values)]
    mean = params.get("mean", float(present.mean()) if present.size else 0.0)
    std = params.get("std", float(present.std()) if present.size else 0.0)
    if std <= 0.0:
        return np.where(np.isnan(values), np.nan, 0.5)
    return np.asarray(ndtr((values - mean) / std), dtype=np.float64)


def _present(values: FloatArray) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.intp]]:
    mask = ~np.isnan(values)
    return mask, np.count_nonzero(mask, axis=1)


def weighted(values: FloatArray, weights: FloatArray) -> FloatArray:
    """Weighted mean of the present entries of each row."""
    mask, count = _present(values)
    w = np.where(mask, weights, 0.0)
    total = w.sum(axis=1)
    summed = np.where(mask, values, 0.0) @ weights if values.shape[1] else np.zeros(len(values))
    with np.errstate(divide="ignore", invalid="ignore"):
        result = summed / total
    return np.where((count > 0) & (total > 0), result, np.nan)


def mean(values: FloatArray, weights: FloatArray) -> FloatArray:
    """Plain mean of the present entries of each row (``weights`` ignored)."""
    return weighted(values, np.ones(values.shape[1]))


def minimum(values: FloatArray, weights: FloatArray) -> FloatArray:
    """Smallest present entry of each row: a node is as good as its weakest metric."""
    mask, count = _present(values)
    if not values.shape[1]:
        return np.full(len(values), np.nan)
    result = np.where(mask, values, np.inf).min(axis=1)
    return np.where(count > 0, result, np.nan)


def maximum(values: FloatArray, weights: FloatArray) -> FloatArray:
    """Largest present entry of each row."""
    mask, count = _present(values)
    if not values.shape[1]:
        return np.full(len(values), np.nan)
    result = np.where(mask, values, -np.inf).max(axis=1)
    return np.where(count > 0, result, np.nan)


register_normaliser("sigmoid", sigmoid, frozenset({"midpoint", "scale"}))
register_normaliser("log_sigmoid", log_sigmoid, frozenset({"midpoint", "decades"}))
register_normaliser("min_max", min_max, frozenset({"low", "high"}))
register_normaliser("z_score", z_score, frozenset({"mean", "std"}))
register_aggregator("mean", mean)
register_aggregator("weighted", weighted)
register_aggregator("min", minimum)
register_aggregator("max", maximum)
