"""The ``Snapshot``: an immutable, array-backed view of node state for one scheduling cycle.

Every array is indexed by position in ``node_ids`` (the order of the topology's nodes) and is
read-only, so a scheduler, a Filter mask or a Score plugin can hold on to it for a whole cycle
while the aggregator keeps ingesting reports into its own arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanwang.measure.metrics import CATEGORIES, MetricCategory
from suanwang.measure.normalise import FloatArray

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot:
    """State of every node at ``built_at_s``.

    Attributes:
        built_at_s: Clock time the snapshot was built at.
        node_ids: Node ids in array order.
        index: Position of each node id.
        metric_types: Names of the columns of ``metrics``.
        metrics: Latest applied L0 values, shape ``(nodes, len(metric_types))``, NaN unknown.
        cpu_capacity_cores: CPU cores of each node (0 when unknown).
        mem_capacity_gib: Memory of each node (0 when unknown).
        cpu_free_cores: Free CPU cores last reported (0 for excluded nodes).
        mem_free_gib: Free memory last reported (0 for excluded nodes).
        load_ratio: Last reported CPU load, 0 idle to 1 saturated (1 for excluded nodes).
        l1: L1 scores 0–10, shape ``(nodes, len(CATEGORIES))``, after the staleness penalty;
            NaN for a category without data.
        l2: L2 score 0–10 after the staleness penalty (0 for excluded nodes).
        age_s: Seconds since each node was last heard from (``inf``: never).
        staleness_factor: Multiplier applied to the scores (1 fresh, 0 excluded).
        stale: Mask of stale nodes (excluded ones included).
        excluded: Mask of nodes that scheduling must not use.
    """

    built_at_s: float
    node_ids: tuple[str, ...]
    index: Mapping[str, int]
    metric_types: tuple[str, ...]
    metrics: FloatArray
    cpu_capacity_cores: FloatArray
    mem_capacity_gib: FloatArray
    cpu_free_cores: FloatArray
    mem_free_gib: FloatArray
    load_ratio: FloatArray
    l1: FloatArray
    l2: FloatArray
    age_s: FloatArray
    staleness_factor: FloatArray
    stale: BoolArray
    excluded: BoolArray

    def __post_init__(self) -> None:
        n = len(self.node_ids)
        for name in Snapshot.__slots__:
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                if value.shape[:1] != (n,):
                    raise ValueError(f"snapshot array {name} has shape {value.shape}, not ({n},…)")
                value.flags.writeable = False

    def __len__(self) -> int:
        return len(self.node_ids)

    @property
    def usable(self) -> BoolArray:
        """Mask of nodes scheduling may use (the complement of ``excluded``)."""
        return ~self.excluded

    def l1_of(self, category: MetricCategory) -> FloatArray:
        """The L1 column of one category."""
        return self.l1[:, CATEGORIES.index(category)]

    def metric(self, metric_type: str) -> FloatArray:
        """The L0 column of one metric type.

        Raises:
            KeyError: the snapshot carries no such column.
        """
        try:
            return self.metrics[:, self.metric_types.index(metric_type)]
        except ValueError:
            raise KeyError(f"snapshot has no metric {metric_type!r}") from None

    def row(self, node_id: str) -> dict[str, float | bool]:
        """Everything known about one node, for diagnoses and display (not for hot paths)."""
        i = self.index[node_id]
        out: dict[str, float | bool] = {
            name: float(self.metrics[i, j]) for j, name in enumerate(self.metric_types)
        }
        out.update(
            {f"l1_{c}": float(self.l1[i, j]) for j, c in enumerate(CATEGORIES)},
            l2=float(self.l2[i]),
            age_s=float(self.age_s[i]),
            stale=bool(self.stale[i]),
            excluded=bool(self.excluded[i]),
        )
        return out
