"""Scores aware of what a placement uses up: best fit on the resource it holds, and scarcity.

A greedy decision that takes the fastest node for a task with slack spends capacity a later,
tighter task needed. These scores make an online decision weigh that:

* ``best-fit`` prefers the node the task fills best on the resource it is bound by (its
  devices for accelerated work, else its cores): whole nodes stay free for big tasks, instead
  of every node being left a little used.
* ``scarcity`` prefers nodes few other requests could use. It keeps, per node, a moving
  average of the demand that recent requests could have placed there (each request spreads its
  share of a node over every node that passed its filters, so a request with few choices
  weighs on them heavily); a request with many choices then avoids the nodes others depend
  on. It learns from the requests it scores: its state is that average and nothing else.
* ``link-fit`` is best fit on links: a task that reserves bandwidth holds it on every link of
  its path, so it prefers the node reached over the fewest links, leaving the others' residual
  to the tasks that can only go that way (every node scores alike for a task that reserves
  none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from suanwang.model import ACCELERATOR_KINDS
from suanwang.scheduling.cycle import Cycle, required_bandwidth_mbps
from suanwang.scheduling.framework import FloatArray, IntArray


def _held_share(cycle: Cycle) -> tuple[FloatArray, FloatArray, IntArray]:
    """(free share of the binding resource before placing, share the task holds, the nodes).

    Over the surviving nodes only (``cycle.alive_index()``): scores read no other entry, and
    a decision on 10,000 nodes with a few hundred survivors should not pay for the rest.
    """
    state, spec = cycle.state, cycle.spec
    index = cycle.alive_index()
    need = spec.accelerator
    ledger = state.reservations
    if need is None:
        capacity = state.arrays.node_cpu_cores[index]
        free = capacity - ledger.cpu_cores[index]
        held = spec.cpu_cores
    else:
        k = ACCELERATOR_KINDS.index(need.kind)
        capacity = state.arrays.node_accel_count[index, k].astype(np.float64)
        free = capacity - ledger.accelerators[index, k]
        held = float(need.count)
    with np.errstate(divide="ignore", invalid="ignore"):
        free_share = np.where(capacity > 0, free / capacity, 0.0)
        held_share = np.where(capacity > 0, held / capacity, np.inf)
    return free_share, held_share, index


class BestFit:
    """Prefer the node left with the least free share of the task's binding resource."""

    name = "best-fit"
    higher_is_better: ClassVar[bool] = False

    def score(self, cycle: Cycle) -> FloatArray:
        """Free share left after placing (0: the task fills the node)."""
        free_share, held_share, index = _held_share(cycle)
        value = np.zeros(len(cycle.alive))
        value[index] = np.maximum(free_share - held_share, 0.0)
        return value


class Scarcity:
    """Prefer nodes that recent requests could rarely use elsewhere (see the module docstring).

    Args:
        args: ``memory`` (default 64): requests the moving average remembers, about.
    """

    name = "scarcity"
    higher_is_better: ClassVar[bool] = False

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        memory = float((args or {}).get("memory", 64))
        if not memory >= 1:
            raise ValueError(f"scarcity memory must be at least 1 request, got {memory}")
        self._alpha = 1.0 / memory
        # The average is ``_stored * _scale``: decaying every node's entry by (1 - alpha) each
        # request is one multiplication of the scale, not a pass over every node.
        self._stored: FloatArray | None = None
        self._scale = 1.0

    def score(self, cycle: Cycle) -> FloatArray:
        """The demand others put on each node, over what is free there (lower is better)."""
        free_share, held_share, index = _held_share(cycle)
        n = len(cycle.alive)
        stored = self._stored
        if stored is None or stored.size != n:
            stored = self._stored = np.zeros(n)
            self._scale = 1.0
        value = np.zeros(n)
        if not index.size:
            return value
        # What the others need, before this request adds its own spread.
        value[index] = stored[index] * self._scale / np.maximum(free_share, 1e-9)
        self._scale *= 1.0 - self._alpha
        if self._scale < _RESCALE_BELOW:
            stored *= self._scale
            self._scale = 1.0
        stored[index] += self._alpha * np.minimum(held_share, 1.0) / (index.size * self._scale)
        return value


# Far above the smallest float: ``stored / scale`` stays exact to the last bits.
_RESCALE_BELOW = 1e-150


class LinkFit:
    """Prefer the path that holds the task's bandwidth on the fewest links (module docstring)."""

    name = "link-fit"
    higher_is_better: ClassVar[bool] = False

    def score(self, cycle: Cycle) -> FloatArray:
        """Links on each node's path where the task reserves bandwidth; 0 everywhere if not."""
        route = cycle.route
        if route is None or required_bandwidth_mbps(cycle.spec) <= 0:
            return np.zeros(len(cycle.alive))
        return route.hops
