"""Request streams of a twin run: Poisson, diurnal, bursts and CSV trace replay.

Each ``Arrivals`` of the workload becomes an iterator of ``(time_s, task_type, ingress)`` drawn
in chunks with numpy from its own random generator (spawned from the run's seed), so a stream's
requests do not depend on how the streams interleave, and a run is the same for the same seed.
Within a stream, the times, the ingress sites and the thinning draws each have a generator of
their own (spawned from the stream's), so that their chunks never interleave. Chunks start
small and double up to ``_CHUNK_MAX``: a stream holds buffered draws in proportion to what it
has used so far, so thousands of slow streams (one user each) stay small in memory.
Diurnal and burst rates are drawn by thinning a Poisson process at the peak rate (Lewis and
Shedler), which is exact for piecewise-constant rates.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from suanwang.model import ArrivalKind, Arrivals, Workload
from suanwang.model.site import HOURS_PER_DAY
from suanwang.twin.errors import TwinError

Arrival = tuple[float, str, str]
"""(time in seconds from the start of the run, task type, ingress site id)"""

_CHUNK_MIN, _CHUNK_MAX = 16, 1024


def _chunk_sizes() -> Iterator[int]:
    """16, 32, 64, ... then ``_CHUNK_MAX`` for ever: draws per numpy call."""
    size = _CHUNK_MIN
    while True:
        yield size
        size = min(2 * size, _CHUNK_MAX)


def _ingress_draw(arrivals: Arrivals, rng: np.random.Generator) -> Iterator[str]:
    """Endless ingress sites drawn by weight, in chunks."""
    if not arrivals.ingress:
        raise TwinError(f"arrivals of {arrivals.task_type!r} name no ingress site")
    sites = [site for site, _ in arrivals.ingress]
    weights = np.array([weight for _, weight in arrivals.ingress], dtype=np.float64)
    weights /= weights.sum()
    for size in _chunk_sizes():
        # Indices stay in the array (8 bytes each), not a list of Python ints.
        for index in rng.choice(len(sites), size=size, p=weights):
            yield sites[index]


def _poisson_times(rate_per_s: float, rng: np.random.Generator) -> Iterator[float]:
    """Endless event times of a Poisson process at ``rate_per_s``."""
    if rate_per_s <= 0:
        return
    now = 0.0
    for size in _chunk_sizes():
        gaps = rng.exponential(1.0 / rate_per_s, size=size)
        times = now + np.cumsum(gaps)
        now = float(times[-1])
        yield from map(float, times)  # 8 bytes a buffered time, not a list of floats


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
        TwinError: A trace file is missing or has a bad row (named by file and line).
    """
    if arrivals.kind is ArrivalKind.TRACE:
        yield from _trace(arrivals, rng, base_dir)
        return
    sites_rng, times_rng, thinning_rng = rng.spawn(3)
    ingress = _ingress_draw(arrivals, sites_rng)
    task_type = arrivals.task_type
    kind = arrivals.kind
    if kind is ArrivalKind.POISSON:
        for time_s in _poisson_times(arrivals.rate_per_s, times_rng):
            yield time_s, task_type, next(ingress)
        return
    if kind is ArrivalKind.DIURNAL:
        multipliers = arrivals.hourly_multipliers or (1.0,) * HOURS_PER_DAY
        peak = max(multipliers)
        accept = [m / peak if peak > 0 else 0.0 for m in multipliers]

        def keep(time_s: float) -> float:
            return accept[int(start_hour + time_s / 3600.0) % HOURS_PER_DAY]

        peak_rate = arrivals.rate_per_s * peak
    else:  # BURST
        every = arrivals.burst_every_s or math.inf
        duration = arrivals.burst_duration_s or 0.0
        factor = max(arrivals.burst_factor or 1.0, 1.0)

        def keep(time_s: float) -> float:
            return 1.0 if time_s % every < duration else 1.0 / factor

        peak_rate = arrivals.rate_per_s * factor
    draws = _uniforms(thinning_rng)
    for time_s in _poisson_times(peak_rate, times_rng):
        if next(draws) < keep(time_s):
            yield time_s, task_type, next(ingress)


def _uniforms(rng: np.random.Generator) -> Iterator[float]:
    for size in _chunk_sizes():
        yield from map(float, rng.random(size))


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
    """One stream per ``Arrivals`` of ``workload``, each with a generator spawned from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(workload.arrivals))
    return [
        arrival_stream(
            arrivals, np.random.default_rng(child), start_hour=start_hour, base_dir=base_dir
        )
        for arrivals, child in zip(workload.arrivals, children, strict=True)
    ]
