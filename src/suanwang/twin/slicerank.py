"""Rankings of slice mode: each demand's candidates, best first, as the profile ranks them.

``Rankings.rank`` runs one ``ClassEvaluator`` cycle (the profile's PreFilter, filters, route and
scores) for a demand on the ledger as it is, and appends the candidates of that demand's last
ranking that it left out (they were full then and may free up within the slice), so that a
slice starting while its only nodes are full does not turn its arrivals away for the whole
slice. Paths to candidates are routed on first use and kept per demand and node until a node
or link goes down or up (``forget``).
"""

from __future__ import annotations

from dataclasses import dataclass

from suanwang.model import TaskSpec
from suanwang.scheduling.batch.classes import ClassEvaluator, ClassView
from suanwang.scheduling.batch.requests import TaskClassGroup

COVERAGE = 4.0
"""A class keeps candidates whose slots hold this many times its arrivals in the slice."""
MIN_CANDIDATES = 16
"""Candidates kept at least per ranking, and at most carried over from the last one."""

Path = tuple[tuple[int, ...], float, float, float]
"""A candidate's path: link indexes, bandwidth reserved on them, one-way ms, price per GB."""


@dataclass(slots=True)
class Ranking:
    """One demand's ranking for the current slice (``twin.slices``).

    Candidates ranked at this slice's start come first; then those of the class's last ranking
    that were full then (they may free up within the slice), with their older estimates.
    ``sources`` says which evaluation ranked each candidate (its path comes from there).
    """

    spec: TaskSpec
    kind: int
    reason: str
    nodes: list[int]
    network_ms: list[float]
    compute_ms: list[float]
    sources: list[int]
    evaluations: list[tuple[ClassEvaluator, ClassView]]
    refreshed: bool = False
    full_at: tuple[int, int] | None = None  # ``Versions.of`` its candidates when all were full


class Rankings:
    """The demands' last rankings and their candidates' paths (module docstring).

    Args:
        link_latency_ms: Per link, its latency.
        link_cost_per_gb: Per link, its price per GB.
    """

    def __init__(self, link_latency_ms: list[float], link_cost_per_gb: list[float]) -> None:
        self._link_latency_ms, self._link_cost = link_latency_ms, link_cost_per_gb
        self._rankings: dict[int, Ranking] = {}
        self._paths: dict[int, dict[int, Path]] = {}  # by kind, then node

    def forget(self) -> None:
        """A node or link went down or up: earlier rankings and paths no longer hold."""
        self._rankings.clear()
        self._paths.clear()

    def rank(self, evaluator: ClassEvaluator, spec: TaskSpec, kind: int, count: int) -> Ranking:
        """Rank ``spec``'s candidates now; the last ranking's others follow (``Ranking``)."""
        view = evaluator.evaluate(
            TaskClassGroup(spec, tuple(range(count))), COVERAGE, MIN_CANDIDATES
        )
        nodes = view.nodes.tolist()
        ranked = Ranking(
            spec,
            kind,
            view.reason,
            nodes,
            view.network_ms.tolist(),
            view.compute_ms.tolist(),
            [0] * len(nodes),
            [(evaluator, view)],
        )
        last = self._rankings.get(kind)
        if last is not None:
            seen, kept = set(nodes), 0
            for at, node in enumerate(last.nodes):
                if node in seen or kept >= MIN_CANDIDATES:
                    continue
                source = last.evaluations[last.sources[at]]
                if source not in ranked.evaluations:
                    ranked.evaluations.append(source)
                ranked.nodes.append(node)
                ranked.network_ms.append(last.network_ms[at])
                ranked.compute_ms.append(last.compute_ms[at])
                ranked.sources.append(ranked.evaluations.index(source))
                kept += 1
        if nodes:  # what the next slice falls back on while these are full
            self._rankings[kind] = ranked
        return ranked

    def path(self, chosen: Ranking, at: int) -> Path:
        """The path of ``chosen``'s candidate ``at``, as the evaluation that ranked it routed it."""
        node = chosen.nodes[at]
        paths = self._paths.setdefault(chosen.kind, {})
        path = paths.get(node)
        if path is None:
            evaluator, view = chosen.evaluations[chosen.sources[at]]
            chosen_path = evaluator.path(view, node)
            links = tuple(int(link) for link in chosen_path.link_indexes)
            reserved = view.bandwidth_mbps if chosen_path.segments else 0.0
            path = paths[node] = (
                links,
                reserved,
                sum(self._link_latency_ms[link] for link in links),
                sum(self._link_cost[link] for link in links),
            )
        return path
