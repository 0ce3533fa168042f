"""Windowed placement: arrivals placed window by window by the min-cost-flow planner.

Between online (one task at a time, in arrival order) and batch (everything at once) lies the
window: consecutive arrivals are held for a short while and placed together, each window on
the ledger the earlier ones left. The controller's windowed mode (``ControllerConfig.window_s``)
does this in time (a few ms live, the same in simulated time); ``place_windowed`` does it in
arrivals, for batches without arrival times (``plan``, the quality benchmark).

A window alone cannot tell which of its tasks to turn away: over capacity, the first big
flexible tasks fill the nodes that the tight-latency work still to come can only use. With
``forecast`` (the default), each window is planned together with the hot (tight-latency)
arrivals of the window before, copied ``FORECAST_COPIES`` times under fresh ids (a window
after none with hot arrivals, the first one for instance, takes its own), as the forecast of
the hot demand still to come; their reservations are given back as soon as the window is
bound. A batch ends: the forecast never covers more windows than the arrivals still to come
fill (the last window forecasts none), so the end of a batch is not kept for work that never
comes. The controller's windowed mode, which has no end, forecasts ``FORECAST_COPIES`` windows
every time. The flow weighs the window's tasks against that demand (each worth one SLA): a
window's task that would take capacity the forecast needs, where the forecast meets more SLAs
with it, is placed elsewhere, or only in what is left after the forecast, or refused. This is
an admission policy: a task refused this way is one the greedy choice would have placed.

After its flow, each window's own tasks (not the forecast's) go through the local-improvement
pass (``batch.improve``), with the forecast still held.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

from suanwang.model import Placement, TaskClass
from suanwang.scheduling.batch.flow import FlowOptions, place_batch
from suanwang.scheduling.batch.improve import improve_placements
from suanwang.scheduling.framework import Request
from suanwang.scheduling.profile import Profile
from suanwang.scheduling.registry import PluginFactory
from suanwang.scheduling.scheduler import ProfilePlugins, Scheduler
from suanwang.scheduling.state import ClusterState

WINDOW_TASKS = 64
"""Arrivals per window of ``place_windowed`` by default (chosen on the gap benchmark)."""
FORECAST_COPIES = 3
"""Copies of the previous window's hot arrivals in the forecast of ``place_windowed`` and of
the controller's windowed mode (three windows of hot demand ahead; chosen on the gap benchmark,
where fewer left the sites that tight work needs to the big tasks of the windows after)."""


def place_windowed(
    profile: Profile,
    state: ClusterState,
    requests: Sequence[Request],
    *,
    window: int = WINDOW_TASKS,
    forecast: bool = True,
    options: FlowOptions | None = None,
    factories: Mapping[str, PluginFactory] | None = None,
) -> tuple[Placement | None, ...]:
    """Place ``requests`` in windows of ``window`` consecutive arrivals (see the module doc).

    Each window goes to ``place_batch`` (what its flow leaves, the online scheduler repairs),
    with ``forecast`` together with ``FORECAST_COPIES`` copies of the previous window's hot
    arrivals (the first window's own; fewer where fewer windows of arrivals are left, none
    for the last window), whose reservations are released after the window is bound; placed
    tasks hold their reservations in ``state``'s ledger afterwards, the forecast's none.

    Raises:
        ValueError: ``window`` is below 1.
        BatchError: repeated or already held task ids.
    """
    if window < 1:
        raise ValueError(f"a window holds at least one arrival, got {window}")
    placements: list[Placement | None] = []
    # One set of plugins for every window: scarcity remembers the demand of earlier windows.
    plugins = ProfilePlugins(profile, state, factories)
    options = options or FlowOptions()
    improve = options.improve if options.repair else None
    flow_options = dataclasses.replace(options, improve=None)
    scheduler = Scheduler(profile, state, factories=factories) if improve is not None else None
    ahead: list[Request] = []
    for start in range(0, len(requests), window):
        chunk = list(requests[start : start + window])
        if not ahead:  # no hot arrival seen before: the window's own stand for what comes
            ahead = [r for r in chunk if r.spec.task_class is TaskClass.HOT]
        # No more windows ahead than the arrivals still to come fill.
        copies = min(float(FORECAST_COPIES), (len(requests) - start - len(chunk)) / window)
        ghosts = forecast_of(ahead, chunk, state, copies=copies) if forecast else []
        plan = place_batch(profile, state, chunk + ghosts, options=flow_options, plugins=plugins)
        done = list(plan.placements[: len(chunk)])
        if scheduler is not None:  # the window's own tasks only: the forecast keeps its room
            improve_placements(scheduler, chunk, done, improve)
        for ghost in ghosts:
            state.reservations.release(ghost.task_id)
        placements.extend(done)
        ahead = [r for r in chunk if r.spec.task_class is TaskClass.HOT]
    return tuple(placements)


def forecast_of(
    previous: Sequence[Request],
    chunk: Sequence[Request],
    state: ClusterState,
    *,
    copies: float = FORECAST_COPIES,
) -> list[Request]:
    """``previous``, ``copies`` times, under ids no task of ``chunk`` uses nor the ledger holds.

    The copies are the forecast of the hot demand still to come: planned with ``chunk``, then
    released by the caller once ``chunk`` is bound (the controller's windowed mode does the
    same). A fractional part of ``copies`` repeats that share of ``previous`` from its start
    (``round(copies x len(previous))`` requests in all).

    Raises:
        ValueError: ``copies`` is below 0 or not finite.
    """
    if not 0 <= copies < float("inf"):
        raise ValueError(f"copies of the forecast must be at least 0 and finite, got {copies}")
    taken = {r.task_id for r in chunk}
    count = round(copies * len(previous))
    ahead = list(previous) * (math.ceil(copies) if previous else 0)
    ghosts = []
    for i, request in enumerate(ahead[:count]):
        task_id = f"forecast~{i}~{request.task_id}"
        while task_id in taken or task_id in state.reservations:
            task_id += "~"
        taken.add(task_id)
        ghosts.append(dataclasses.replace(request, task_id=task_id, waited_ms=0.0))
    return ghosts
