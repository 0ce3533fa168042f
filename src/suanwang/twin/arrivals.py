"""Request streams of a twin run: Poisson, diurnal, bursts and CSV trace replay.

``workload_streams`` superposes the streams of one shape into one stream: every Poisson stream
of the workload is one Poisson process at the summed rate, every diurnal stream with the same
hourly multipliers one thinned process, every burst stream with the same windows one. Each
request of a merged stream is then given a ``(task type, ingress)`` mark drawn with probability
``rate of its stream x weight of the site / total rate``. For independent Poisson processes of
one shape this is exact (superposition and independent marking), so the requests of each
original stream, and of each ingress site within it, keep their distribution, while the
memory held stays the same however many streams (one per user in an imported EdgeSimPy
dataset) the workload has: a merged stream holds one chunk of draws and one table of marks.
Trace streams stay one iterator each.

Draws are made lazily in chunks with numpy, each merged stream from its own random generator
(spawned from the run's seed), with the gaps, the thinning draws and the marks each from a
generator of their own (spawned from the stream's), so a run is the same for the same seed.
Chunks start small and double up to ``_CHUNK_MAX``. Diurnal and burst rates are drawn by
thinning a Poisson process at the peak rate (Lewis and Shedler), which is exact for
piecewise-constant rates.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from suanwang.model import ArrivalKind, Arrivals, Workload
from suanwang.model.site import HOURS_PER_DAY
from suanwang.twin.errors import TwinError

Arrival = tuple[float, str, str]
"""(time in seconds from the start of the run, task type, ingress site id)"""

_CHUNK_MIN, _CHUNK_MAX = 16, 1024

Acceptance = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]
"""Probability of keeping a draw of the peak-rate process at each of the given times."""


def _chunk_sizes() -> Iterator[int]:
    """16, 32, 64, ... then ``_CHUNK_MAX`` for ever: draws per numpy call."""
    size = _CHUNK_MIN
    while True:
        yield size
        size = min(2 * size, _CHUNK_MAX)


def shape_key(arrivals: Arrivals) -> Hashable:
    """What streams must share to be superposed: kind and the rate's shape over time.

    Trace streams have no shape (each replays its own file): ``workload_streams`` never merges
    them.
    """
    kind = arrivals.kind
    if kind is ArrivalKind.DIURNAL:
        return kind, arrivals.hourly_multipliers or (1.0,) * HOURS_PER_DAY
    if kind is ArrivalKind.BURST:
        return kind, arrivals.burst_every_s, arrivals.burst_duration_s, arrivals.burst_factor
    if kind is ArrivalKind.TRACE:
        return kind, arrivals.trace_file
    return (kind,)


def _peak_and_acceptance(shape: Arrivals, start_hour: float) -> tuple[float, Acceptance | None]:
    """(peak rate multiplier, acceptance of a time) of the stream shape; None: keep every draw."""
    if shape.kind is ArrivalKind.DIURNAL:
        multipliers = shape.hourly_multipliers or (1.0,) * HOURS_PER_DAY
        peak = max(multipliers)
        accept = np.array([m / peak if peak > 0 else 0.0 for m in multipliers])

        def diurnal(times_s: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            hours = np.floor(start_hour + times_s / 3600.0).astype(np.int64) % HOURS_PER_DAY
            return accept[hours]

        return peak, diurnal
    if shape.kind is ArrivalKind.BURST:
        every = shape.burst_every_s or math.inf
        duration = shape.burst_duration_s or 0.0
        factor = max(shape.burst_factor or 1.0, 1.0)

        def burst(times_s: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            return np.where(np.fmod(times_s, every) < duration, 1.0, 1.0 / factor)

        return factor, burst
    return 1.0, None


def merged_stream(
    members: Sequence[Arrivals], rng: np.random.Generator, *, start_hour: float = 0.0
) -> Iterator[Arrival]:
    """The requests of streams of one shape (``shape_key``) superposed, in time order, endless.

    Args:
        members: Poisson, diurnal or burst streams sharing one ``shape_key``.
        rng: The merged stream's own random generator.
        start_hour: Local hour of day at time 0 (diurnal rates follow it).

    Raises:
        TwinError: A member names no ingress site.
        ValueError: ``members`` is empty or its shapes differ.
    """
    if not members or len({shape_key(a) for a in members}) != 1:
        raise ValueError("merged_stream needs one or more streams of one shape")
    # The marks as two index arrays into the distinct task types and sites (8 bytes a mark):
    # a workload of thousands of one-user streams holds a few bytes per stream here, no more.
    task_types: dict[str, int] = {}
    sites: dict[str, int] = {}
    type_of_mark: list[int] = []
    site_of_mark: list[int] = []
    rates: list[float] = []
    for arrivals in members:
        if not arrivals.ingress:
            raise TwinError(f"arrivals of {arrivals.task_type!r} name no ingress site")
        weight_sum = math.fsum(weight for _, weight in arrivals.ingress)
        for site, weight in arrivals.ingress:
            type_of_mark.append(task_types.setdefault(arrivals.task_type, len(task_types)))
            site_of_mark.append(sites.setdefault(site, len(sites)))
            rates.append(arrivals.rate_per_s * weight / weight_sum)
    total_rate_per_s = math.fsum(rates)
    if total_rate_per_s <= 0:
        return
    cumulative = np.cumsum(np.array(rates, dtype=np.float64)) / total_rate_per_s
    mark_types = np.array(type_of_mark, dtype=np.int32)
    mark_sites = np.array(site_of_mark, dtype=np.int32)
    type_names, site_names = list(task_types), list(sites)
    del task_types, sites, type_of_mark, site_of_mark, rates
    peak, accept = _peak_and_acceptance(members[0], start_hour)
    if peak <= 0:
        return
    marks_rng, times_rng, thinning_rng = rng.spawn(3)
    mean_gap_s = 1.0 / (total_rate_per_s * peak)
    last = len(cumulative) - 1
    now_s = 0.0
    for size in _chunk_sizes():
        times_s = now_s + np.cumsum(times_rng.exponential(mean_gap_s, size=size))
        now_s = float(times_s[-1])
        if accept is not None:
            times_s = times_s[thinning_rng.random(size) < accept(times_s)]
        # side="right": a mark of zero weight (its cumulative equals the one before) is never hit
        picks = np.searchsorted(cumulative, marks_rng.random(len(times_s)), side="right")
        picks = np.minimum(picks, last)
        chunk = zip(
            times_s.tolist(), mark_types[picks].tolist(), mark_sites[picks].tolist(), strict=True
        )
        for time_s, type_index, site_index in chunk:
            yield time_s, type_names[type_index], site_names[site_index]


def arrival_stream(
    arrivals: Arrivals,
    rng: np.random.Generator,
    *,
    start_hour: float = 0.0,
    base_dir: Path | None = None,
) -> Iterator[Arrival]:
    """The requests of one stream, in time order, without end (trace: until the file ends).

    Args:
        arrivals: The stream's description.
        rng: Its own random generator.
        start_hour: Local hour of day at time 0 (diurnal rates follow it).
        base_dir: Folder trace files are relative to.

    Raises:
        TwinError: A trace file is missing or has a bad row (named by file and line), or the
            stream names no ingress site.
    """
    if arrivals.kind is ArrivalKind.TRACE:
        return _trace(arrivals, rng, base_dir)
    return merged_stream((arrivals,), rng, start_hour=start_hour)


def _ingress_draw(arrivals: Arrivals, rng: np.random.Generator) -> Iterator[str]:
    """Endless ingress sites drawn by weight, in chunks (the blank sites of a trace)."""
    sites = [site for site, _ in arrivals.ingress]
    weights = np.array([weight for _, weight in arrivals.ingress], dtype=np.float64)
    weights /= weights.sum()
    for size in _chunk_sizes():
        for index in rng.choice(len(sites), size=size, p=weights).tolist():
            yield sites[index]


def _trace(
    arrivals: Arrivals, rng: np.random.Generator, base_dir: Path | None
) -> Iterator[Arrival]:
    """Rows ``time_s,task_type,ingress`` of a CSV trace (header optional, blanks take defaults)."""
    path = Path(arrivals.trace_file or "")
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise TwinError(f"{path}: trace file not found (arrivals of {arrivals.task_type!r})")
    ingress = _ingress_draw(arrivals, rng) if arrivals.ingress else None
    last_s = 0.0
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].strip().startswith("#"):
                continue
            if line == 1 and row[0].strip().lower() in {"time_s", "time"}:
                continue
            try:
                time_s = float(row[0])
            except ValueError:
                raise TwinError(f"{path}:{line}: time_s: not a number (got {row[0]!r})") from None
            if not math.isfinite(time_s) or time_s < last_s:
                raise TwinError(
                    f"{path}:{line}: time_s: times must be finite and never decrease (got {row[0]})"
                )
            last_s = time_s
            task_type = row[1].strip() if len(row) > 1 and row[1].strip() else arrivals.task_type
            site = row[2].strip() if len(row) > 2 else ""
            if not site:
                if ingress is None:
                    raise TwinError(f"{path}:{line}: ingress: empty and the stream has no default")
                site = next(ingress)
            yield time_s, task_type, site


def workload_streams(
    workload: Workload, seed: int, *, start_hour: float = 0.0, base_dir: Path | None = None
) -> list[Iterator[Arrival]]:
    """The workload's requests as few streams: one per shape (``shape_key``), one per trace.

    Streams are in the order of their first ``Arrivals`` in the workload, each with a
    generator spawned from ``seed``; together they carry the requests of every ``Arrivals``.
    """
    groups: dict[Hashable, list[Arrivals]] = {}
    for index, arrivals in enumerate(workload.arrivals):
        key = (index,) if arrivals.kind is ArrivalKind.TRACE else shape_key(arrivals)
        groups.setdefault(key, []).append(arrivals)
    children = np.random.SeedSequence(seed).spawn(len(groups))
    streams: list[Iterator[Arrival]] = []
    for members, child in zip(groups.values(), children, strict=True):
        rng = np.random.default_rng(child)
        if members[0].kind is ArrivalKind.TRACE:
            streams.append(_trace(members[0], rng, base_dir))
        else:
            streams.append(merged_stream(members, rng, start_hour=start_hour))
    return streams
