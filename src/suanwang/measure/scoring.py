"""From L0 values to L1 and L2 scores under one configuration (the CATS consistency rule).

The pipeline, for an ``(n, m)`` array of L0 values (n nodes, m metric types):

1. each column is normalised onto [0, 1] by the normaliser the configuration names for that
   metric type, then flipped (``1 - s``) where lower is better, so 1 always means "best";
2. L1: the columns of each category are aggregated (``category_aggregation``) and scaled to 0–10;
3. L2: the L1 scores are aggregated (``score_aggregation``) into one 0–10 score per node.

Missing values are NaN and are ignored by every aggregation; a category without any value is NaN
at L1; a node without any value scores 0 at L2 (it offers nothing we know of). See
``suanwang.measure.metrics`` for what the 0–10 bands mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from suanwang.measure.metrics import CATEGORIES, SCORE_MAX, metric_spec
from suanwang.measure.normalise import AGGREGATORS, NORMALISERS, FloatArray

_POSITIVE_PARAMS = ("scale", "decades")


@dataclass(frozen=True, slots=True)
class NormaliserSpec:
    """Which registered normaliser scores a metric type, with its parameters.

    Raises:
        ValueError: on construction, for an unknown function, an unknown parameter, a
            non-positive ``scale``/``decades`` or ``high <= low``.
    """

    function: str
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.function not in NORMALISERS:
            raise ValueError(f"unknown normaliser {self.function!r}; known: {sorted(NORMALISERS)}")
        unknown = set(self.params) - NORMALISERS[self.function].params
        if unknown:
            raise ValueError(f"normaliser {self.function!r} takes no parameter {sorted(unknown)}")
        params = {name: float(value) for name, value in self.params.items()}
        for name in _POSITIVE_PARAMS:
            if params.get(name, 1.0) <= 0:
                raise ValueError(f"{self.function} parameter {name} must be positive")
        if params.get("high", 1.0) <= params.get("low", 0.0):
            raise ValueError(f"{self.function} needs high > low")
        object.__setattr__(self, "params", MappingProxyType(params))

    def __hash__(self) -> int:
        return hash((self.function, tuple(sorted(self.params.items()))))


@dataclass(frozen=True, slots=True)
class AggregationSpec:
    """Which registered aggregator combines scores, with weights by metric type or category.

    Weights only matter to ``weighted``; a name without a weight weighs 1.
    """

    function: str = "mean"
    weights: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.function not in AGGREGATORS:
            raise ValueError(f"unknown aggregator {self.function!r}; known: {sorted(AGGREGATORS)}")
        if any(weight < 0 for weight in self.weights.values()):
            raise ValueError("aggregation weights must not be negative")
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))

    def __hash__(self) -> int:
        return hash((self.function, tuple(sorted(self.weights.items()))))

    def apply(self, values: FloatArray, names: Sequence[str]) -> FloatArray:
        """Aggregate the columns of ``values`` (named by ``names``) into one value per row."""
        weights = np.array([self.weights.get(name, 1.0) for name in names], dtype=np.float64)
        function = AGGREGATORS[self.function].function
        return np.asarray(function(values, weights), dtype=np.float64)


def _spec(function: str, **params: float) -> NormaliserSpec:
    return NormaliserSpec(function, params)


DEFAULT_NORMALISERS: Mapping[str, NormaliserSpec] = MappingProxyType(
    {
        # Rates and capacities span decades: a log scale, midpoint at a "medium" machine of 2025,
        # two decades wide so that run-to-run noise of a few per cent moves L2 by well under 0.1.
        "cpu_fp64_gflops": _spec("log_sigmoid", midpoint=100.0, decades=1.0),
        "cpu_fp32_gflops": _spec("log_sigmoid", midpoint=200.0, decades=1.0),
        "gpu_fp32_gflops": _spec("log_sigmoid", midpoint=20_000.0, decades=1.0),
        "gpu_fp16_gflops": _spec("log_sigmoid", midpoint=100_000.0, decades=1.0),
        "mem_bandwidth_gbps": _spec("log_sigmoid", midpoint=20.0, decades=1.0),
        "cpu_cores": _spec("log_sigmoid", midpoint=16.0, decades=1.0),
        "mem_gib": _spec("log_sigmoid", midpoint=64.0, decades=1.0),
        "disk_free_gib": _spec("log_sigmoid", midpoint=200.0, decades=1.0),
        "cpu_free_cores": _spec("log_sigmoid", midpoint=8.0, decades=1.0),
        "mem_free_gib": _spec("log_sigmoid", midpoint=16.0, decades=1.0),
        "load_ratio": _spec("min_max", low=0.0, high=1.0),
        # Latencies: tier figures of DESIGN.md §9, 20 ms (edge/region boundary) scores 5.
        "rtt_ms": _spec("log_sigmoid", midpoint=20.0, decades=0.5),
        "bandwidth_mbps": _spec("log_sigmoid", midpoint=1000.0, decades=1.0),
        "loss_ratio": _spec("min_max", low=0.0, high=0.05),
        "service_latency_ms": _spec("log_sigmoid", midpoint=50.0, decades=0.5),
        "queue_length": _spec("min_max", low=0.0, high=100.0),
        "success_ratio": _spec("min_max", low=0.9, high=1.0),
        "e2e_latency_ms": _spec("log_sigmoid", midpoint=50.0, decades=0.5),
    }
)


@dataclass(frozen=True, slots=True)
class MetricConfig:
    """The one scoring configuration every component uses.

    Attributes:
        normalisers: Normaliser for each L0 metric type (every type scored must have one).
        category_aggregation: L0 -> L1 aggregation within a category; weights by metric type.
        score_aggregation: L1 -> L2 aggregation over categories; weights by category name.
    """

    normalisers: Mapping[str, NormaliserSpec] = field(default_factory=lambda: DEFAULT_NORMALISERS)
    category_aggregation: AggregationSpec = AggregationSpec("mean")
    score_aggregation: AggregationSpec = AggregationSpec("mean")

    def __post_init__(self) -> None:
        for name in self.normalisers:
            metric_spec(name)  # raises KeyError on an unknown metric type
        object.__setattr__(self, "normalisers", MappingProxyType(dict(self.normalisers)))

    def __hash__(self) -> int:
        normalisers = tuple(sorted(self.normalisers.items()))
        return hash((normalisers, self.category_aggregation, self.score_aggregation))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> MetricConfig:
        """Build from plain data (a parsed YAML file); unnamed metric types keep their defaults.

        Example::

            normalisers:
              rtt_ms: {function: min_max, params: {low: 1, high: 100}}
            category_aggregation: {function: weighted, weights: {load_ratio: 2}}
            score_aggregation: {function: min}
        """
        normalisers = dict(DEFAULT_NORMALISERS)
        for name, spec in (data.get("normalisers") or {}).items():
            normalisers[name] = NormaliserSpec(spec["function"], spec.get("params") or {})
        return cls(
            normalisers=normalisers,
            category_aggregation=AggregationSpec(**(data.get("category_aggregation") or {})),
            score_aggregation=AggregationSpec(**(data.get("score_aggregation") or {})),
        )


DEFAULT_CONFIG = MetricConfig()
"""The configuration used wherever none is given."""


def normalise(
    metric_type: str, values: npt.ArrayLike, config: MetricConfig = DEFAULT_CONFIG
) -> FloatArray:
    """Goodness of raw ``values`` of one metric type in [0, 1] (1 best), NaN where missing.

    Raises:
        KeyError: the metric type is unknown or has no normaliser in ``config``.
    """
    spec = metric_spec(metric_type)
    try:
        normaliser = config.normalisers[metric_type]
    except KeyError:
        raise KeyError(f"no normaliser configured for {metric_type!r}") from None
    array = np.asarray(values, dtype=np.float64)
    scored = NORMALISERS[normaliser.function].function(array, normaliser.params)
    return np.asarray(scored if spec.higher_is_better else 1.0 - scored, dtype=np.float64)


def l1_scores(
    metric_types: Sequence[str], values: npt.ArrayLike, config: MetricConfig = DEFAULT_CONFIG
) -> FloatArray:
    """L1 scores (0–10) of each node and category from an ``(n, m)`` array of L0 values.

    Args:
        metric_types: Name of each column of ``values``.
        values: Raw values, NaN where missing; a 1-D array is one node.
        config: Scoring configuration.

    Returns:
        Shape ``(n, len(CATEGORIES))``, columns in ``CATEGORIES`` order; NaN for a category
        without values.
    """
    array = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if array.shape[1] != len(metric_types):
        raise ValueError(f"{len(metric_types)} metric types for {array.shape[1]} columns")
    goodness = np.empty_like(array)
    for column, name in enumerate(metric_types):
        goodness[:, column] = normalise(name, array[:, column], config)
    categories = [metric_spec(name).category for name in metric_types]
    result = np.full((array.shape[0], len(CATEGORIES)), np.nan)
    for index, category in enumerate(CATEGORIES):
        columns = [i for i, c in enumerate(categories) if c is category]
        if columns:
            names = [metric_types[i] for i in columns]
            aggregated = config.category_aggregation.apply(goodness[:, columns], names)
            result[:, index] = SCORE_MAX * aggregated
    return result


def l2_scores(l1: npt.ArrayLike, config: MetricConfig = DEFAULT_CONFIG) -> FloatArray:
    """L2 score (0–10) of each node from its L1 scores (``l1_scores`` output); 0 without data."""
    array = np.atleast_2d(np.asarray(l1, dtype=np.float64))
    names = [str(category) for category in CATEGORIES]
    aggregated = config.score_aggregation.apply(array, names)
    return np.clip(np.nan_to_num(aggregated, nan=0.0), 0.0, SCORE_MAX)
