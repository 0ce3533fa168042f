"""Why a task went where it went, or nowhere: "why here", "why not node X" and the near misses.

Closeness. A node turned away by a later filter of the pipeline got further than one turned
away earlier (it passed everything before), so rejections are read from the last plugin to the
first. Within one plugin, a plugin that measures misses (``MissMeasure``) orders its nodes:
those that could pass once load drops (finite ``short_by``) before those that never could, then
by the plugin's kinds in its order, then by how little they missed by; without a measure, the
nodes keep their index order. Both ``verdicts`` and ``refusals`` follow this order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.framework import (
    FilterPlugin,
    FloatArray,
    IntArray,
    MissMeasure,
    RoutePlugin,
    Status,
)
from suanwang.scheduling.whyhere import ScoreRecord, WhyHere, why_here

__all__ = ["Diagnosis", "NearMiss", "NodeVerdict", "RefusalGroup", "ScoreRecord"]


@dataclass(frozen=True, slots=True)
class NodeVerdict:
    """One node's fate in a cycle: the plugin that turned it away and why (empty if it passed)."""

    node_id: str
    plugin: str
    reason: str

    @property
    def passed(self) -> bool:
        """True when no filter turned the node away."""
        return not self.plugin


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A rejected node, its reason and how far it was from passing.

    Attributes:
        node_id: The node.
        reason: The plugin's explanation, with the figures.
        short_by: How much it missed by, in ``unit`` (``inf``: no load change would do; None:
            the plugin does not measure misses).
        unit: The unit of ``short_by`` ("ms", "cores", ...; may be empty).
    """

    node_id: str
    reason: str
    short_by: float | None
    unit: str


@dataclass(frozen=True, slots=True)
class RefusalGroup:
    """The nodes one plugin turned away for one kind of shortfall.

    Attributes:
        plugin: The plugin.
        kind: What fell short ("free CPU cores"; empty where the plugin does not measure misses).
        count: Nodes in the group.
        closest: The closest of them, closest first.
    """

    plugin: str
    kind: str
    count: int
    closest: tuple[NearMiss, ...]


@dataclass(frozen=True, slots=True)
class _Ranked:
    """One plugin's rejected nodes in closeness order, with their kind and shortfall."""

    nodes: IntArray
    kind: IntArray
    short_by: FloatArray | None
    kinds: tuple[str, ...]
    units: tuple[str, ...]


class Diagnosis:
    """Explains one cycle; reasons are built only when asked for (they may be slow).

    Args:
        cycle: The finished cycle.
        status: The cycle's outcome.
        explainers: Filter and Route plugins by name, to ask for per-node reasons and misses.
        scores: What the cycle's scoring produced, on a placement (for ``why_here``).
    """

    def __init__(
        self,
        cycle: Cycle,
        status: Status,
        explainers: Mapping[str, FilterPlugin | RoutePlugin],
        scores: ScoreRecord | None = None,
    ) -> None:
        self._cycle = cycle
        self.status = status
        self._explainers = explainers
        self._scores = scores
        self._summary: str | None = None
        self._ranked: dict[str, _Ranked] = {}

    @property
    def rejected_by(self) -> dict[str, int]:
        """How many nodes each plugin turned away, in order of the plugins."""
        return {plugin: int(mask.sum()) for plugin, mask in self._cycle.rejections}

    @property
    def survivors(self) -> int:
        """Nodes that passed every filter."""
        return int(self._cycle.alive.sum())

    def why_not(self, node_id: str) -> NodeVerdict:
        """The first plugin that rejected ``node_id`` and its reason.

        Raises:
            KeyError: no node has that id.
        """
        arrays = self._cycle.state.arrays
        try:
            node = arrays.node_ids.index(node_id)
        except ValueError:
            raise KeyError(f"no node {node_id!r}") from None
        for plugin, mask in self._cycle.rejections:
            if mask[node]:
                return NodeVerdict(node_id, plugin, self._reason(plugin, node))
        return NodeVerdict(node_id, "", "passed every filter")

    def verdicts(self, limit: int | None = None) -> list[NodeVerdict]:
        """Verdicts of rejected nodes (all, or the ``limit`` closest), closest first.

        Grouped by the plugin that rejected them, from the last plugin of the pipeline to the
        first; within a plugin in closeness order (module docstring).
        """
        node_ids = self._cycle.state.arrays.node_ids
        out: list[NodeVerdict] = []
        for plugin, _ in reversed(self._cycle.rejections):
            for node in self._rank(plugin).nodes:
                if limit is not None and len(out) >= limit:
                    return out
                out.append(NodeVerdict(node_ids[node], plugin, self._reason(plugin, int(node))))
        return out

    def refusals(self, closest: int = 3) -> list[RefusalGroup]:
        """Rejections grouped by plugin and kind of shortfall, with counts and closest nodes.

        Plugins from the last of the pipeline to the first; a plugin's kinds in the order its
        closest node of each kind comes (module docstring); ``closest`` nodes of each group.
        """
        node_ids = self._cycle.state.arrays.node_ids
        groups: list[RefusalGroup] = []
        for plugin, _ in reversed(self._cycle.rejections):
            ranked = self._rank(plugin)
            kinds, first = np.unique(ranked.kind, return_index=True)
            for k in kinds[np.argsort(first)]:
                members = np.flatnonzero(ranked.kind == k)
                near = []
                for position in members[:closest]:
                    node = int(ranked.nodes[position])
                    short = None if ranked.short_by is None else float(ranked.short_by[position])
                    reason = self._reason(plugin, node)
                    near.append(NearMiss(node_ids[node], reason, short, ranked.units[int(k)]))
                groups.append(
                    RefusalGroup(plugin, ranked.kinds[int(k)], int(members.size), tuple(near))
                )
        return groups

    def why_here(self, alternatives: int = 3) -> WhyHere | None:
        """The placed node's points per Score plugin and the ``alternatives`` next best.

        None when the cycle placed nothing. See ``suanwang.scheduling.whyhere``.
        """
        node = self._cycle.chosen_node
        if self._scores is None or node is None or not self.status.ok:
            return None
        return why_here(self._cycle, self._scores, node, alternatives)

    def summary(self) -> str:
        """One line: the outcome and the count each plugin rejected (fixed at first call)."""
        if self._summary is not None:
            return self._summary
        counts = ", ".join(f"{plugin}: {count}" for plugin, count in self.rejected_by.items())
        head = self.status.reason or self.status.code.value
        if self.status.plugin:
            head = f"{self.status.plugin}: {head}"
        self._summary = f"{head} ({self.survivors} nodes passed; rejected by {counts or 'none'})"
        return self._summary

    def _reason(self, plugin: str, node: int) -> str:
        return self._explainers[plugin].explain(self._cycle, node)

    def _rank(self, plugin: str) -> _Ranked:
        """``plugin``'s rejected nodes in closeness order (worked out once per plugin)."""
        ranked = self._ranked.get(plugin)
        if ranked is not None:
            return ranked
        mask = next(mask for name, mask in self._cycle.rejections if name == plugin)
        nodes = mask.nonzero()[0]
        explainer = self._explainers[plugin]
        if isinstance(explainer, MissMeasure):
            miss = explainer.miss(self._cycle, nodes)
            short_by = np.where(np.isnan(miss.short_by), np.inf, miss.short_by)
            # lexsort sorts by its last key first: could-pass first, then kind, then shortfall.
            order = np.lexsort((nodes, short_by, miss.kind, np.isinf(short_by)))
            ranked = _Ranked(
                nodes[order], miss.kind[order], short_by[order], miss.kinds, miss.units
            )
        else:
            ranked = _Ranked(nodes, np.zeros(nodes.size, dtype=np.intp), None, ("",), ("",))
        self._ranked[plugin] = ranked
        return ranked
