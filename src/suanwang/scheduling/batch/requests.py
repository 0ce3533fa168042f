"""A seeded batch of requests drawn from a workload, and its grouping into task classes.

A batch stands for "many pending tasks at once": each request's task type is drawn in proportion
to its arrival stream's mean rate and its ingress site by the stream's weights, so a batch looks
like a snapshot of what the workload submits. Requests whose demand (``TaskSpec``, ingress
included) is equal form one *class*: the batch planners evaluate filters, routes and estimates
once per class, never once per task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suanwang.model import ArrivalKind, Arrivals, TaskSpec, Workload
from suanwang.scheduling.framework import Request


class BatchError(ValueError):
    """A batch cannot be drawn (no stream with a rate and an ingress) or is malformed."""


def mean_rate_per_s(arrivals: Arrivals) -> float:
    """Mean rate of a stream over a day: diurnal multipliers and bursts averaged in."""
    rate = arrivals.rate_per_s
    if arrivals.kind is ArrivalKind.DIURNAL and arrivals.hourly_multipliers:
        rate *= sum(arrivals.hourly_multipliers) / len(arrivals.hourly_multipliers)
    elif arrivals.kind is ArrivalKind.BURST:
        every, duration, factor = (
            arrivals.burst_every_s,
            arrivals.burst_duration_s,
            arrivals.burst_factor,
        )
        if every and duration and factor:
            rate *= 1.0 + (factor - 1.0) * min(duration, every) / every
    return rate


def draw_batch(workload: Workload, tasks: int, seed: int = 0, prefix: str = "t") -> list[Request]:
    """``tasks`` requests drawn from ``workload``, in arrival order, the same for one seed.

    Args:
        workload: Task types and arrival streams; a stream counts in proportion to its mean rate
            (``mean_rate_per_s``) and needs at least one ingress site.
        tasks: Number of requests, at least 1.
        seed: Seed of numpy's ``default_rng``.
        prefix: Task ids are ``prefix`` plus a zero-padded index.

    Raises:
        BatchError: ``tasks < 1``, or no stream has a positive rate, an ingress and a known type.
    """
    if tasks < 1:
        raise BatchError(f"a batch holds at least one task, got {tasks}")
    known = {task_type.name: task_type.spec for task_type in workload.task_types}
    streams = [
        a
        for a in workload.arrivals
        if a.ingress and a.task_type in known and mean_rate_per_s(a) > 0
    ]
    if not streams:
        raise BatchError(
            "the workload has no arrival stream with a positive rate, an ingress site and a "
            "known task type, so no batch can be drawn from it"
        )
    rng = np.random.default_rng(seed)
    rates = np.array([mean_rate_per_s(a) for a in streams])
    stream_of = rng.choice(len(streams), size=tasks, p=rates / rates.sum())
    ingress_of: list[str] = [""] * tasks
    for s, stream in enumerate(streams):
        at = np.flatnonzero(stream_of == s)
        if at.size == 0:
            continue
        sites = [site for site, _ in stream.ingress]
        weights = np.array([weight for _, weight in stream.ingress], dtype=np.float64)
        picks = rng.choice(len(sites), size=at.size, p=weights / weights.sum())
        for index, pick in zip(at.tolist(), picks.tolist(), strict=True):
            ingress_of[index] = sites[pick]
    width = len(str(tasks - 1))
    specs: dict[tuple[int, str], TaskSpec] = {}
    requests = []
    for index, (s, site) in enumerate(zip(stream_of.tolist(), ingress_of, strict=True)):
        spec = specs.get((s, site))
        if spec is None:  # one spec object per class: equal specs group without hashing twice
            spec = specs[(s, site)] = known[streams[s].task_type].at(site)
        requests.append(Request(f"{prefix}{index:0{width}d}", spec))
    return requests


@dataclass(frozen=True, slots=True)
class TaskClassGroup:
    """Requests of a batch with one demand: a task class.

    Attributes:
        spec: The demand every member shares (ingress included).
        members: Indexes of the members in the batch, in batch order.
        waited_ms: The longest any member has waited already (``Request.waited_ms``): the
            class's cycle judges budgets with it, so no member is placed past its budget.
    """

    spec: TaskSpec
    members: tuple[int, ...]
    waited_ms: float = 0.0

    @property
    def count(self) -> int:
        """Number of members."""
        return len(self.members)


def group_classes(
    requests: Sequence[Request], among: Sequence[int] | None = None
) -> list[TaskClassGroup]:
    """Requests grouped by equal ``spec``, classes in order of their first member.

    Args:
        requests: The batch.
        among: Indexes to group (default all), e.g. the requests still pending.

    Raises:
        BatchError: two requests share a task id.
    """
    ids = {request.task_id for request in requests}
    if len(ids) != len(requests):
        raise BatchError("task ids in a batch must be unique")
    # Group by object first, in numpy (a drawn batch shares one spec object per class), then
    # merge equal specs: hashing a spec is slow next to comparing ids.
    index = np.arange(len(requests)) if among is None else np.asarray(among, dtype=np.int64)
    if index.size == 0:
        return []
    objects = np.fromiter((id(requests[i].spec) for i in index.tolist()), np.uint64, index.size)
    _, first, inverse = np.unique(objects, return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=first.size))[:-1]
    by_object = np.split(index[order], bounds)
    groups: dict[TaskSpec, list[int]] = {}
    for k in np.argsort(first, kind="stable").tolist():  # in order of first appearance
        groups.setdefault(requests[int(index[first[k]])].spec, []).extend(by_object[k].tolist())
    out = []
    for spec, members in groups.items():
        ordered = tuple(sorted(members))
        waited_ms = max(requests[m].waited_ms for m in ordered)
        out.append(TaskClassGroup(spec, ordered, waited_ms))
    return out
