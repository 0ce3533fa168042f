"""Why a placed task went where it went: its node's points per Score plugin, and the runners-up.

The Scheduler keeps, by reference, the raw values each Score plugin gave the candidates
(``ScoreRecord``); nothing is scaled, sorted or copied until a diagnosis is asked "why here".
The points are then worked out from those raw values exactly as the decision did
(``scale_scores``, weights, totals added in plugin order), so they are the decision's own even
for plugins whose values change from call to call (random, round-robin).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from suanwang.model import Estimate
from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.framework import FloatArray, IntArray, ScorePlugin
from suanwang.scheduling.scaling import SCORE_MAX, scale_scores


class ScoreRecord(NamedTuple):
    """What one cycle's scoring produced (references only: made on every placement).

    Attributes:
        plugins: The profile's Score plugins with their weights, in the order they ran.
        candidates: Indexes of the nodes that were scored (every filter passed), ascending.
        raw: Per plugin, its raw values over ``candidates``.
    """

    plugins: Sequence[tuple[ScorePlugin, float]]
    candidates: IntArray
    raw: Sequence[FloatArray]


@dataclass(frozen=True, slots=True)
class PluginScore:
    """One Score plugin's part in a node's total.

    Attributes:
        plugin: The plugin's name.
        weight: Its weight in the profile.
        raw: The value it gave the node (its own unit: ms, a price, a utilisation).
        scaled: That value in points, 0-100 over the candidates (the best gets 100).
        weighted: ``weight x scaled``, the points it adds to the node's total.
    """

    plugin: str
    weight: float
    raw: float
    scaled: float
    weighted: float


@dataclass(frozen=True, slots=True)
class Candidate:
    """A scored node: its total, its estimate and the points of each plugin.

    Attributes:
        node_id: The node.
        score: Total weighted points (the sum of ``scores``' ``weighted``).
        estimate: What running there is expected to take (network, queueing, compute ms; cost).
        scores: Per Score plugin, in the profile's order.
    """

    node_id: str
    score: float
    estimate: Estimate
    scores: tuple[PluginScore, ...]


@dataclass(frozen=True, slots=True)
class WhyHere:
    """The answer to "why this node".

    Attributes:
        chosen: The node the task was placed on.
        alternatives: The best-scoring other candidates, highest total first (ties: node order).
        candidates: How many nodes passed every filter and were scored.
        score_max: Largest possible total (every plugin at 100 points).
        kept: True when an alternative scores higher: the node was kept by session affinity or
            hysteresis (CATS: no flapping between near-equal candidates).
    """

    chosen: Candidate
    alternatives: tuple[Candidate, ...]
    candidates: int
    score_max: float
    kept: bool


def why_here(cycle: Cycle, record: ScoreRecord, node: int, alternatives: int) -> WhyHere:
    """Points and estimate of the chosen ``node`` and of the ``alternatives`` best others.

    Estimates of alternatives come from the cycle's figures where it computed them, else are
    worked out for that node on the ledger as it is when asked.

    Raises:
        ValueError: ``node`` was not among the scored candidates.
    """
    candidates = record.candidates
    at = int(candidates.searchsorted(node))
    if at >= candidates.size or candidates[at] != node:
        raise ValueError(f"node index {node} was not scored in this cycle")
    weighted: list[FloatArray] = []
    scaled: list[FloatArray] = []
    totals = np.zeros(candidates.size)
    for (plugin, weight), raw in zip(record.plugins, record.raw, strict=True):
        points = scale_scores(raw, plugin.higher_is_better)
        scaled.append(points)
        weighted.append(weight * points)
        totals += weighted[-1]  # the scheduler's order of addition, so the totals are its own

    def candidate(position: int) -> Candidate:
        parts = tuple(
            PluginScore(
                plugin.name,
                float(weight),
                float(raw[position]),
                float(points[position]),
                float(part[position]),
            )
            for (plugin, weight), raw, points, part in zip(
                record.plugins, record.raw, scaled, weighted, strict=True
            )
        )
        index = int(candidates[position])
        return Candidate(
            cycle.state.arrays.node_ids[index],
            float(totals[position]),
            cycle.estimate(index),
            parts,
        )

    # Highest total first; equal totals in node order (lexsort: the last key sorts first).
    order = np.lexsort((candidates, -totals))
    others = [int(p) for p in order if p != at][: max(0, alternatives)]
    return WhyHere(
        chosen=candidate(at),
        alternatives=tuple(candidate(p) for p in others),
        candidates=int(candidates.size),
        score_max=SCORE_MAX * sum(weight for _, weight in record.plugins),
        kept=bool(totals.size and totals[at] < totals.max()),
    )
