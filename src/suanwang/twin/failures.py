"""Failures in a twin run: scripted outages and random MTBF/MTTR processes.

A scripted failure names a node, a link, a site (its nodes and the links that touch it) or a
network element (the links that touch it). A random process makes every node (optionally of one
tier) or every link fail after an exponential time with mean MTBF and come back after an
exponential time with mean MTTR, again and again. The first failure times of all elements are
drawn at once with numpy; only those inside the run become events.

Overlapping outages of one element are counted, so it comes back only when the last ends. Each
change goes to the controller (``node_down`` / ``link_down`` ... ``node_up``), which re-places
the affected work, exactly as failure detection does in live mode.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from suanwang.model import FailureScope, RandomFailures, ScriptedFailure, Topology
from suanwang.model.failures import Failure
from suanwang.twin.errors import TwinError
from suanwang.twin.loop import EventLoop
from suanwang.twin.metrics import RunMetrics

_HOUR_S = 3600.0


class FailureTarget(Protocol):
    """What hears of downs and ups: the ``Controller``, or the slice mode's core."""

    def node_down(self, node_id: str, reason: str) -> int:
        """``node_id`` failed; returns the runs it affected."""
        ...

    def node_up(self, node_id: str) -> None:
        """``node_id`` is back."""
        ...

    def link_down(self, link_id: str, reason: str) -> int:
        """``link_id`` failed; returns the runs it affected."""
        ...

    def link_up(self, link_id: str) -> None:
        """``link_id`` is back."""
        ...


class FailureDriver:
    """Schedules the failures of a run on its loop and tells the controller.

    Args:
        loop: The run's event loop.
        controller: Receives downs and ups.
        topology: Where targets are looked up.
        failures: Scripted and random failures.
        horizon_s: No failure starts after this time.
        rng: Random draws for MTBF/MTTR processes.
        metrics: Counts failure events.

    Raises:
        TwinError: A scripted failure names no known node, link, site or element.
    """

    def __init__(
        self,
        loop: EventLoop,
        controller: FailureTarget,
        topology: Topology,
        *,
        failures: tuple[Failure, ...],
        horizon_s: float,
        rng: np.random.Generator,
        metrics: RunMetrics,
    ) -> None:
        self._loop, self._controller, self._metrics = loop, controller, metrics
        self._horizon_s, self._rng = horizon_s, rng
        self._node_ids = tuple(topology.nodes)
        self._link_ids = tuple(topology.links)
        self._node_index = {node: i for i, node in enumerate(self._node_ids)}
        self._link_index = {link: i for i, link in enumerate(self._link_ids)}
        self._outages: dict[tuple[str, int], int] = {}
        self._down_since = np.full(len(self._node_ids), np.nan)
        self.node_down_s = np.zeros(len(self._node_ids))
        for failure in failures:
            if isinstance(failure, ScriptedFailure):
                self._script(topology, failure)
            else:
                self._random(topology, failure)

    def _script(self, topology: Topology, failure: ScriptedFailure) -> None:
        targets = _targets(topology, failure.target)
        if failure.at_s > self._horizon_s:
            return
        self._loop.at(failure.at_s, self._down, (targets, failure.target))
        if failure.repair_after_s is not None:
            self._loop.at(failure.at_s + failure.repair_after_s, self._up, targets)

    def _random(self, topology: Topology, failure: RandomFailures) -> None:
        if failure.scope is FailureScope.NODES:
            kind, ids = (
                "node",
                [
                    node.id
                    for node in topology.nodes.values()
                    if failure.tier is None or topology.sites[node.site_id].tier is failure.tier
                ],
            )
        else:
            kind, ids = "link", list(topology.links)
        first_s = self._rng.exponential(failure.mtbf_h * _HOUR_S, size=len(ids))
        for element, at_s in zip(ids, first_s.tolist(), strict=True):
            if at_s <= self._horizon_s:
                self._loop.at(at_s, self._random_down, (kind, element, failure))

    def _random_down(self, event: tuple[str, str, RandomFailures]) -> None:
        kind, element, failure = event
        targets = [(kind, element)]
        self._down((targets, f"random {kind} failure (MTBF {failure.mtbf_h:g} h)"))
        repair_s = float(self._rng.exponential(failure.mttr_h * _HOUR_S))
        self._loop.after(repair_s, self._random_up, event)

    def _random_up(self, event: tuple[str, str, RandomFailures]) -> None:
        kind, element, failure = event
        self._up([(kind, element)])
        next_s = float(self._rng.exponential(failure.mtbf_h * _HOUR_S))
        if self._loop.now_s() + next_s <= self._horizon_s:
            self._loop.after(next_s, self._random_down, event)

    def _down(self, event: tuple[list[tuple[str, str]], str]) -> None:
        targets, why = event
        for kind, element in targets:
            index = self._index(kind, element)
            count = self._outages.get((kind, index), 0)
            self._outages[(kind, index)] = count + 1
            if count:
                continue
            if kind == "node":
                self._metrics.node_failures += 1
                self._down_since[index] = self._loop.now_s()
                self._controller.node_down(element, why)
            else:
                self._metrics.link_failures += 1
                self._controller.link_down(element, why)

    def _up(self, targets: list[tuple[str, str]]) -> None:
        for kind, element in targets:
            index = self._index(kind, element)
            count = self._outages.get((kind, index), 0)
            if count == 0:
                continue
            self._outages[(kind, index)] = count - 1
            if count > 1:
                continue
            if kind == "node":
                self.node_down_s[index] += self._loop.now_s() - self._down_since[index]
                self._down_since[index] = np.nan
                self._controller.node_up(element)
            else:
                self._controller.link_up(element)

    def close(self, end_s: float) -> None:
        """Count the downtime of nodes still down at the end of the run."""
        still = ~np.isnan(self._down_since)
        self.node_down_s[still] += end_s - self._down_since[still]
        self._down_since[still] = end_s

    def _index(self, kind: str, element: str) -> int:
        return self._node_index[element] if kind == "node" else self._link_index[element]


def _targets(topology: Topology, target: str) -> list[tuple[str, str]]:
    """The nodes and links a failure of ``target`` takes down."""
    if target in topology.nodes:
        return [("node", target)]
    if target in topology.links:
        return [("link", target)]
    if target in topology.sites or target in topology.elements:
        nodes = (
            [("node", node.id) for node in topology.nodes_at(target)]
            if target in topology.sites
            else []
        )
        links = [
            ("link", link.id) for link in topology.links.values() if target in (link.a, link.b)
        ]
        return nodes + links
    raise TwinError(f"failure target {target!r} is no node, link, site or network element")
