"""Unified measurement: CATS metric records, normalisation and scoring, compute measure, probes.

Pure records and functions over numpy arrays; no sockets, no database (DESIGN.md §3). The pieces:

* ``metrics``: ``Metric`` records (L0/L1/L2), the metric catalogue, score bands;
* ``normalise`` / ``scoring``: the function registries and the one ``MetricConfig``;
* ``compute``: work / (rate x efficiency) compute-time estimates, scalar and vectorised;
* ``probes``: measure this machine; ``policy``: update and staleness rules;
* ``snapshot`` / ``network``: array-backed node and link state for a scheduling cycle.
"""

from suanwang.measure.compute import (
    CPU,
    DEFAULT_EFFICIENCY,
    DEVICES,
    ComputeDemand,
    EfficiencyTable,
    WorkloadClass,
    compute_time_s,
    compute_time_s_array,
    device_rate_gflops,
    effective_rate_gflops,
)
from suanwang.measure.metrics import (
    CATEGORIES,
    METRIC_TYPES,
    REPORT_METRICS,
    Metric,
    MetricCategory,
    MetricLevel,
    MetricSource,
    MetricSpec,
    Statistic,
    metric_spec,
    score_band,
)
from suanwang.measure.network import LinkMetrics
from suanwang.measure.normalise import (
    AGGREGATORS,
    NORMALISERS,
    register_aggregator,
    register_normaliser,
)
from suanwang.measure.policy import StalenessPolicy, UpdateDecision, UpdateMode, UpdatePolicy
from suanwang.measure.scoring import (
    DEFAULT_CONFIG,
    AggregationSpec,
    MetricConfig,
    NormaliserSpec,
    l1_scores,
    l2_scores,
    normalise,
)
from suanwang.measure.snapshot import Snapshot

__all__ = [
    "AGGREGATORS",
    "CATEGORIES",
    "CPU",
    "DEFAULT_CONFIG",
    "DEFAULT_EFFICIENCY",
    "DEVICES",
    "METRIC_TYPES",
    "NORMALISERS",
    "REPORT_METRICS",
    "AggregationSpec",
    "ComputeDemand",
    "EfficiencyTable",
    "LinkMetrics",
    "Metric",
    "MetricCategory",
    "MetricConfig",
    "MetricLevel",
    "MetricSource",
    "MetricSpec",
    "NormaliserSpec",
    "Snapshot",
    "StalenessPolicy",
    "Statistic",
    "UpdateDecision",
    "UpdateMode",
    "UpdatePolicy",
    "WorkloadClass",
    "compute_time_s",
    "compute_time_s_array",
    "device_rate_gflops",
    "effective_rate_gflops",
    "l1_scores",
    "l2_scores",
    "metric_spec",
    "normalise",
    "register_aggregator",
    "register_normaliser",
    "score_band",
]
