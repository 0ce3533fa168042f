"""Datasets: named data with replicas at sites, which tasks read as inputs (东数西存, 网-算-存).

A dataset's replicas occupy storage at the sites holding them (``Site.storage_gb``); a topology
refuses replicas that do not fit. A task naming a dataset as input reads it from the nearest
site holding a replica, so a node at such a site reads it without crossing the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from suanwang.model.policy import check_data_tag

MB_PER_GB = 1000.0
"""Megabytes in a gigabyte (decimal units, as in ``data_in_mb`` and ``cost_per_gb``)."""


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset and where its replicas are stored.

    Attributes:
        id: Unique id within a topology.
        size_mb: Size of one replica, in megabytes (10^6 bytes).
        sites: Sites holding a replica, each at most once; at least one.
        tags: Free-form tags (``cold``, ``hot``, ``personal``...).
    """

    id: str
    size_mb: float
    sites: tuple[str, ...]
    tags: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a dataset needs a non-empty id")
        if not (math.isfinite(self.size_mb) and self.size_mb >= 0):
            raise ValueError(
                f"dataset {self.id!r}: size_mb must be finite, >= 0, got {self.size_mb}"
            )
        if not self.sites:
            raise ValueError(f"dataset {self.id!r}: sites must name at least one site")
        if len(set(self.sites)) != len(self.sites):
            raise ValueError(f"dataset {self.id!r}: sites repeat a site, got {list(self.sites)}")
        for tag in self.tags:
            check_data_tag(tag)

    @property
    def size_gb(self) -> float:
        """Size of one replica in gigabytes."""
        return self.size_mb / MB_PER_GB


def stored_gb(datasets: tuple[Dataset, ...] | list[Dataset], site_id: str) -> float:
    """Storage the replicas of ``datasets`` occupy at site ``site_id``, in GB."""
    return sum(d.size_gb for d in datasets if site_id in d.sites)
