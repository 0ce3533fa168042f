"""Score plugins: each returns raw values per node; the framework scales and weights them."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from suanwang.measure import MetricCategory
from suanwang.measure.metrics import SCORE_MAX
from suanwang.model import TaskClass
from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.framework import FloatArray


class LeastLoaded:
    """Prefer nodes whose device (CPU or the task's accelerator kind) is least utilised."""

    name = "least-loaded"
    higher_is_better: ClassVar[bool] = False

    def score(self, cycle: Cycle) -> FloatArray:
        """Utilisation, 0..1."""
        return cycle.utilisation()


class CatsMetric:
    """Prefer nodes whose agents' measured metrics score best (IETF CATS L2, 0-10).

    Per node: the snapshot's L2 score (``measure.scoring`` under the one ``MetricConfig``, after
    the staleness penalty) where the node's agent reported and some L1 category has data; else
    its L1 compute score where that exists; else, for a node without a report, ``10 x (1 -
    reserved CPU share)`` (the ledger's load on the same 0-10 scale). Without any snapshot
    (the twin, plans) every node scores the same, so the plugin leaves the choice to the others.
    """

    name = "cats-metric"
    higher_is_better: ClassVar[bool] = True

    def score(self, cycle: Cycle) -> FloatArray:
        """The node's 0-10 score (see the class docstring)."""
        state = cycle.state
        snapshot = state.snapshot
        if snapshot is None:
            return np.full(len(state.arrays.node_ids), SCORE_MAX)
        capacity = state.arrays.node_cpu_cores
        reserved = np.ones(len(capacity))
        np.divide(state.reservations.cpu_cores, capacity, out=reserved, where=capacity > 0)
        value = SCORE_MAX * (1.0 - np.clip(reserved, 0.0, 1.0))
        reported = np.isfinite(snapshot.age_s)
        compute = snapshot.l1_of(MetricCategory.COMPUTE)
        value = np.where(reported & np.isfinite(compute), compute, value)
        scored = reported & np.isfinite(snapshot.l1).any(axis=1)
        return np.asarray(np.where(scored, snapshot.l2, value), dtype=np.float64)


class BalancedAllocation:
    """Prefer nodes whose CPU and memory would stay evenly used after placement."""

    name = "balanced-allocation"
    higher_is_better: ClassVar[bool] = False

    def score(self, cycle: Cycle) -> FloatArray:
        """|CPU share - memory share| after adding the task."""
        arrays, spec, state = cycle.state.arrays, cycle.spec, cycle.state
        with np.errstate(divide="ignore", invalid="ignore"):
            cpu = (state.reservations.cpu_cores + spec.cpu_cores) / arrays.node_cpu_cores
            mem = (state.reservations.mem_gib + spec.mem_gib) / arrays.node_mem_gib
        return np.asarray(np.nan_to_num(np.abs(cpu - mem), nan=1.0, posinf=1.0))


class Nearest:
    """Prefer the shortest network time (network only; compute ignored)."""

    name = "nearest"
    higher_is_better: ClassVar[bool] = False

    def score(self, cycle: Cycle) -> FloatArray:
        """Network time in ms."""
        return cycle.network_ms()


class ComputeOnly:
    """Prefer the fastest compute (network ignored)."""

    name = "compute-only"
    higher_is_better: ClassVar[bool] = False

    def score(self, cycle: Cycle) -> FloatArray:
        """Compute plus queueing time in ms."""
        return cycle.compute_ms() + cycle.queueing_ms()


class EndToEnd:
    """Prefer the shortest end-to-end time: network, queueing and compute together (CATS)."""

    name = "end-to-end"
    higher_is_better: ClassVar[bool] = False

    def score(self, cycle: Cycle) -> FloatArray:
        """Estimated total time in ms."""
        return cycle.total_ms()


class Cost:
    """Prefer the cheapest placement (compute and transfer)."""

    name = "cost"
    higher_is_better: ClassVar[bool] = False

    def score(self, cycle: Cycle) -> FloatArray:
        """Estimated price."""
        return cycle.cost()


class Carbon:
    """Prefer the placement that emits least: energy x PUE x the site's carbon at this hour."""

    name = "carbon"
    higher_is_better: ClassVar[bool] = False

    def score(self, cycle: Cycle) -> FloatArray:
        """Estimated grams CO2e."""
        return cycle.carbon_g()


class EastWest:
    """East data, west computing: each class where it belongs.

    Hot work near the user, cold work where power is cheap and clean, warm work in the user's
    home region.
    """

    name = "east-west"
    higher_is_better: ClassVar[bool] = False

    def score(self, cycle: Cycle) -> FloatArray:
        """A class-dependent penalty (lower is better)."""
        task_class = cycle.spec.task_class
        if task_class is TaskClass.HOT:
            return cycle.total_ms()
        if task_class is TaskClass.COLD:
            carbon, cost = cycle.carbon_g(), cycle.cost()
            return _unit(carbon) + _unit(cost)
        # warm: stay in the ingress region when possible, then be fast
        away = np.ones(len(cycle.state.arrays.node_ids))
        ingress = cycle.spec.ingress_site
        if ingress is not None and ingress in cycle.state.topology.sites:
            region = cycle.state.topology.sites[ingress].region
            if region:
                away = (~cycle.state.region_mask((region,))).astype(np.float64)
        return away + _unit(cycle.total_ms())


def _unit(values: FloatArray) -> FloatArray:
    """Values scaled to 0..1 over their finite entries (inf stays inf)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return values
    low, high = float(finite.min()), float(finite.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


class Random:
    """Random preference (a baseline); seeded for repeatability.

    Args:
        args: ``seed`` (default 0).
    """

    name = "random"
    higher_is_better: ClassVar[bool] = True

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        self._rng = np.random.default_rng(int((args or {}).get("seed", 0)))

    def score(self, cycle: Cycle) -> FloatArray:
        """Uniform random values."""
        return self._rng.random(len(cycle.state.arrays.node_ids))


class RoundRobin:
    """Each decision prefers the next node in a rotating order (a baseline)."""

    name = "round-robin"
    higher_is_better: ClassVar[bool] = False

    def __init__(self) -> None:
        self._turn = itertools.count()
        self._order = np.arange(0)

    def score(self, cycle: Cycle) -> FloatArray:
        """Distance of each node index after the current turn's position."""
        n = len(cycle.state.arrays.node_ids)
        if self._order.size != n:
            self._order = np.arange(n)
        start = next(self._turn) % max(n, 1)
        return np.asarray((self._order - start) % max(n, 1), dtype=np.float64)
