"""Network metrics per link: latency, bandwidth and loss, configured or measured."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanwang.measure.metrics import Metric, MetricLevel, MetricSource, Statistic
from suanwang.measure.normalise import FloatArray
from suanwang.model import TopologyArrays


@dataclass(frozen=True, slots=True, eq=False)
class LinkMetrics:
    """Latency, bandwidth and loss of every link, in the order of ``TopologyArrays.link_ids``.

    Attributes:
        link_ids: Link ids in array order.
        index: Position of each link id.
        latency_ms: One-way latency.
        bandwidth_mbps: Available bandwidth.
        loss_ratio: Packet loss, 0 to 1.
        measured: Mask of links whose figures come from a measurement (else configured).
        measured_at_s: Time of each link's last measurement (NaN for configured figures).
    """

    link_ids: tuple[str, ...]
    index: Mapping[str, int]
    latency_ms: FloatArray
    bandwidth_mbps: FloatArray
    loss_ratio: FloatArray
    measured: npt.NDArray[np.bool_]
    measured_at_s: FloatArray

    def __post_init__(self) -> None:
        for name in ("latency_ms", "bandwidth_mbps", "loss_ratio", "measured", "measured_at_s"):
            array = getattr(self, name)
            if array.shape != (len(self.link_ids),):
                raise ValueError(f"{name} has shape {array.shape}, not ({len(self.link_ids)},)")
            array.flags.writeable = False

    @classmethod
    def from_topology(cls, arrays: TopologyArrays) -> LinkMetrics:
        """The configured figures of the topology (source ``nominal``)."""
        n = len(arrays.link_ids)
        return cls(
            link_ids=arrays.link_ids,
            index={link_id: i for i, link_id in enumerate(arrays.link_ids)},
            latency_ms=arrays.link_latency_ms.copy(),
            bandwidth_mbps=arrays.link_bandwidth_mbps.copy(),
            loss_ratio=arrays.link_loss_ratio.copy(),
            measured=np.zeros(n, dtype=np.bool_),
            measured_at_s=np.full(n, np.nan),
        )

    def records(self, link_id: str, timestamp_s: float) -> tuple[Metric, ...]:
        """The three L0 records of one link."""
        i = self.index[link_id]
        source = MetricSource.MEASURED if self.measured[i] else MetricSource.NOMINAL
        at_s = float(self.measured_at_s[i]) if self.measured[i] else timestamp_s
        figures = (
            ("latency_ms", "ms", self.latency_ms[i]),
            ("bandwidth_mbps", "Mbps", self.bandwidth_mbps[i]),
            ("loss_ratio", "ratio", self.loss_ratio[i]),
        )
        return tuple(
            Metric(name, unit, source, Statistic.CUR, MetricLevel.L0, float(value), at_s, link_id)
            for name, unit, value in figures
        )
