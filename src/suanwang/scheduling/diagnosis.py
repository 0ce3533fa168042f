"""Why a task went where it went, or nowhere: the answer to "why not node X"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.framework import FilterPlugin, RoutePlugin, Status


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


class Diagnosis:
    """Explains one cycle; reasons are built only when asked for (they may be slow).

    Args:
        cycle: The finished cycle.
        status: The cycle's outcome.
        explainers: Filter and Route plugins by name, to ask for per-node reasons.
    """

    def __init__(
        self,
        cycle: Cycle,
        status: Status,
        explainers: Mapping[str, FilterPlugin | RoutePlugin],
    ) -> None:
        self._cycle = cycle
        self.status = status
        self._explainers = explainers
        self._summary: str | None = None

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
                return NodeVerdict(
                    node_id, plugin, self._explainers[plugin].explain(self._cycle, node)
                )
        return NodeVerdict(node_id, "", "passed every filter")

    def verdicts(self, limit: int | None = None) -> list[NodeVerdict]:
        """Verdicts of rejected nodes (all, or the first ``limit``).

        Grouped by the plugin that rejected them, in pipeline order; by node order within a
        plugin.
        """
        arrays = self._cycle.state.arrays
        out: list[NodeVerdict] = []
        for plugin, mask in self._cycle.rejections:
            for node in mask.nonzero()[0]:
                out.append(
                    NodeVerdict(
                        arrays.node_ids[node],
                        plugin,
                        self._explainers[plugin].explain(self._cycle, int(node)),
                    )
                )
                if limit is not None and len(out) >= limit:
                    return out
        return out

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
