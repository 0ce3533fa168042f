"""Outcomes other than completion in a slice-mode run: failures, rejections, the cut at the end.

``SliceFailures`` is the ``FailureDriver``'s target in slice mode: a node or link that goes
down is marked in the scheduling state (no later ranking offers it) and every run on it, or
over it, fails then and there, its time held so far accounted (energy, cost); slice mode does
not re-place it, unlike the exact mode's controller. It also counts rejected arrivals and
cancels what is still running when the run ends, each under a cause as the exact mode counts
them.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from suanwang.model import TaskSpec
from suanwang.twin.metrics import ClassStats, RunMetrics
from suanwang.twin.sliceacct import FLUSH_ROWS, Ended, SliceAccounting
from suanwang.twin.slicebook import Book, Need

if TYPE_CHECKING:
    from suanwang.twin.loop import EventLoop

Entry = tuple[float, int, Need, Ended, tuple[int, ...], float]
"""A running task in the slice core's heap: (end s, sequence, what it holds, its row, its
links, the bandwidth it reserves on them)."""
Running = list[Entry]
_FULL = "every candidate of its class was full when it arrived"


@dataclass(slots=True)
class Versions:
    """Counts of what was freed: per node, and of reserved bandwidth anywhere.

    Both only grow, so equal ``of`` sums mean nothing was freed on those nodes (nor any
    bandwidth) in between: a class whose candidates were all full then is still full now.
    """

    nodes: list[int]
    bandwidth: int = 0

    def freed(self, node: int, reserved_mbps: float) -> None:
        """A run on ``node`` gave back its reservation."""
        self.nodes[node] += 1
        if reserved_mbps > 0:
            self.bandwidth += 1

    def of(self, nodes: list[int]) -> tuple[int, int]:
        """The freed count over ``nodes``, and of bandwidth."""
        counts = self.nodes
        return sum(counts[node] for node in nodes), self.bandwidth


class SliceFailures:
    """Failures, rejections and cancellations of a slice-mode run (module docstring).

    Args:
        book: What running tasks hold (a cut run gives it back); downs are marked in its state.
        running: The core's heap of running tasks (changed in place).
        acct: Where cut runs are measured.
        metrics: Where outcomes are counted.
        loop: The run's clock.
        versions: What was freed (a cut run frees its node).
        changed: Called when a node or link goes down or up (rankings and paths go stale).
    """

    def __init__(
        self,
        book: Book,
        running: Running,
        acct: SliceAccounting,
        metrics: RunMetrics,
        *,
        loop: EventLoop,
        versions: Versions,
        changed: Callable[[], None],
    ) -> None:
        self._book, self._state, self._running, self._acct = book, book.state, running, acct
        self._metrics, self._loop, self._versions = metrics, loop, versions
        self._changed = changed
        self._rejected: Counter[tuple[int, str]] = Counter()
        self._rejected_at: list[float] = []
        arrays = book.state.arrays
        self._node_index = {node: i for i, node in enumerate(arrays.node_ids)}
        self._link_index = {link: i for i, link in enumerate(arrays.link_ids)}

    def node_down(self, node_id: str, reason: str) -> int:
        """``node_id`` failed: it is marked down and the runs on it fail."""
        node = self._node_index[node_id]
        self._state.mark_node(node, down=True)
        self._changed()
        return self._cut(lambda entry: entry[3].node == node, "failed:node-down", reason)

    def node_up(self, node_id: str) -> None:
        """``node_id`` is back."""
        self._state.mark_node(self._node_index[node_id], down=False)
        self._changed()

    def link_down(self, link_id: str, reason: str) -> int:
        """``link_id`` failed: it is marked down and the runs over it fail."""
        link = self._link_index[link_id]
        self._state.mark_link(link, down=True)
        self._changed()
        return self._cut(lambda entry: link in entry[4], "failed:link-down", reason)

    def link_up(self, link_id: str) -> None:
        """``link_id`` is back."""
        self._state.mark_link(self._link_index[link_id], down=False)
        self._changed()

    def cut_all(self, at_s: float, reason: str) -> int:
        """Cancel every run still active at ``at_s`` (the end of the drain)."""
        return self._cut(lambda _: True, "cancelled:end", reason, at_s=at_s, failed=False)

    def reject(self, kind: int, reason: str, at_s: float) -> None:
        """An arrival of ``kind`` found no node: rejected under ``rejected:slice`` (buffered)."""
        self._rejected[kind, reason] += 1
        self._rejected_at.append(at_s)
        if len(self._rejected_at) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Count the buffered rejections."""
        for (kind, reason), count in self._rejected.items():
            for stats in self._stats(self._acct.spec_of(kind)):
                stats.rejected += count
            self._metrics.count_cause("rejected:slice", reason or _FULL, count)
        self._rejected.clear()
        times = np.array(self._rejected_at)
        self._acct.series.add_many(times, "rejected", np.ones(times.size))
        self._rejected_at.clear()

    def _stats(self, spec: TaskSpec) -> tuple[ClassStats, ClassStats]:
        metrics = self._metrics
        return metrics.by_class[spec.task_class], metrics.type_stats(spec.task_type or "(untyped)")

    def _cut(
        self,
        hit: Callable[[Entry], bool],
        cause: str,
        reason: str,
        *,
        at_s: float | None = None,
        failed: bool = True,
    ) -> int:
        now_s = self._loop.now_s() if at_s is None else at_s
        kept: Running = []
        cut: Running = []
        for entry in self._running:
            (cut if hit(entry) else kept).append(entry)
        if not cut:
            return 0
        self._running[:] = kept
        heapq.heapify(self._running)
        for _, _, need, row, links, reserved in cut:
            self._book.hold(row.node, need, links, reserved, -1.0)
            self._versions.freed(row.node, reserved)
            self._acct.ended(
                Ended(
                    row.kind,
                    row.node,
                    row.submitted_s,
                    row.started_s,
                    max(now_s, row.started_s),
                    row.network_ms,
                    row.compute_ms,
                    row.estimate_ms,
                    row.link_cost_per_gb,
                    row.hops,
                    completed=False,
                )
            )
            for stats in self._stats(self._acct.spec_of(row.kind)):
                if failed:
                    stats.failed += 1
                else:
                    stats.cancelled += 1
            if failed:
                self._acct.series.add(now_s, "failed")
            self._metrics.count_cause(cause, reason)
        return len(cut)
