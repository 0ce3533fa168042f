"""Windowed placement: arrivals placed window by window by the min-cost-flow planner.

Between online (one task at a time, in arrival order) and batch (everything at once) lies the
window: consecutive arrivals are held for a short while and placed together, each window on
the ledger the earlier ones left. The controller's windowed mode (``ControllerConfig.window_s``)
does this in time (a few ms live, the same in simulated time); ``place_windowed`` does it in
arrivals, for batches without arrival times (``plan``, the quality benchmark).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from suanwang.model import Placement
from suanwang.scheduling.batch.flow import FlowOptions, place_batch
from suanwang.scheduling.framework import Request
from suanwang.scheduling.profile import Profile
from suanwang.scheduling.registry import PluginFactory
from suanwang.scheduling.scheduler import ProfilePlugins
from suanwang.scheduling.state import ClusterState

WINDOW_TASKS = 64
"""Arrivals per window of ``place_windowed`` by default (chosen on the gap benchmark)."""


def place_windowed(
    profile: Profile,
    state: ClusterState,
    requests: Sequence[Request],
    *,
    window: int = WINDOW_TASKS,
    options: FlowOptions | None = None,
    factories: Mapping[str, PluginFactory] | None = None,
) -> tuple[Placement | None, ...]:
    """Place ``requests`` in windows of ``window`` consecutive arrivals (see the module doc).

    Each window goes to ``place_batch`` (what its flow leaves, the online scheduler repairs);
    placed tasks hold their reservations in ``state``'s ledger afterwards.

    Raises:
        ValueError: ``window`` is below 1.
        BatchError: repeated or already held task ids.
    """
    if window < 1:
        raise ValueError(f"a window holds at least one arrival, got {window}")
    placements: list[Placement | None] = []
    # One set of plugins for every window: scarcity remembers the demand of earlier windows.
    plugins = ProfilePlugins(profile, state, factories)
    for start in range(0, len(requests), window):
        chunk = requests[start : start + window]
        plan = place_batch(profile, state, chunk, options=options, plugins=plugins)
        placements.extend(plan.placements)
    return tuple(placements)
