"""A path through the routing graph, as the placement records it: vertices and link segments."""

from __future__ import annotations

import math
from dataclasses import dataclass


class NoPathError(ValueError):
    """No path joins the two vertices (in the graph as pruned for the query).

    Attributes:
        source: Id of the source vertex.
        target: Id of the target vertex.
    """

    def __init__(self, source: str, target: str, detail: str = "") -> None:
        message = f"no path from {source!r} to {target!r}"
        super().__init__(f"{message} ({detail})" if detail else message)
        self.source = source
        self.target = target


@dataclass(frozen=True, slots=True)
class Path:
    """A loop-free path from ``vertices[0]`` to ``vertices[-1]``.

    ``segments[i]`` is the id of the link between ``vertices[i]`` and ``vertices[i + 1]``, so
    there is one segment fewer than vertices. A path from a vertex to itself (two nodes of one
    site) has one vertex, no segments, latency 0 and an infinite bottleneck: nothing on the
    network limits it.

    Attributes:
        vertices: Site and network element ids, source first.
        segments: Link ids, in travel order.
        latency_ms: One-way propagation latency, the sum over the segments, in ms.
        bottleneck_mbps: Least bandwidth along the segments in Mbps (of the figures the query
            used: residual bandwidth when it was given, else capacity); inf without segments.
    """

    vertices: tuple[str, ...]
    segments: tuple[str, ...]
    latency_ms: float
    bottleneck_mbps: float

    def __post_init__(self) -> None:
        if not self.vertices:
            raise ValueError("a path has at least one vertex")
        if len(self.segments) != len(self.vertices) - 1:
            raise ValueError(
                f"a path of {len(self.vertices)} vertices needs {len(self.vertices) - 1} "
                f"segments, got {len(self.segments)}"
            )
        if not self.segments and (self.latency_ms != 0.0 or not math.isinf(self.bottleneck_mbps)):
            raise ValueError("a path without segments has latency 0 and an infinite bottleneck")

    @classmethod
    def trivial(cls, vertex: str) -> Path:
        """The path from ``vertex`` to itself."""
        return cls((vertex,), (), 0.0, math.inf)

    @property
    def hops(self) -> int:
        """Number of links on the path (0 within one site)."""
        return len(self.segments)

    @property
    def source(self) -> str:
        """First vertex."""
        return self.vertices[0]

    @property
    def target(self) -> str:
        """Last vertex."""
        return self.vertices[-1]

    @property
    def round_trip_ms(self) -> float:
        """Propagation round trip, twice the one-way latency, in ms."""
        return 2.0 * self.latency_ms
