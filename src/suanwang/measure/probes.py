"""Local probes: measure this machine as L0 metrics, score it at L1/L2, report the spread.

What is measured, per run:

* ``cpu_fp64_gflops`` / ``cpu_fp32_gflops``: dense matmul of two ``n x n`` matrices with numpy
  (``2 n^3`` operations); the best of ``repeats`` timings counts, since a peak is wanted and
  interference only ever slows a run down;
* ``mem_bandwidth_gbps``: ``numpy.copyto`` of a buffer, counting bytes read plus bytes written;
* ``cpu_cores``, ``mem_gib``, ``disk_free_gib``: from psutil;
* ``gpu_fp32_gflops`` / ``gpu_fp16_gflops``: matmul through torch, only when torch is installed
  and sees a CUDA device; otherwise the GPU is reported absent, never guessed.

Calibration (the CATS target: repeated runs within 0.1 of each other at L2): best-of-``repeats``
timings and log-scale normalisers one decade wide (``scoring.DEFAULT_NORMALISERS``) keep a 10 %
run-to-run change of one rate below 0.05 of L2. ``MachineMeasurement.l2_spread`` reports the
spread actually seen. Probes touch no network; agents that talk to peers live in ``execution``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import psutil

from suanwang.measure.metrics import (
    CATEGORIES,
    Metric,
    MetricLevel,
    MetricSource,
    Statistic,
    metric_spec,
)
from suanwang.measure.scoring import DEFAULT_CONFIG, MetricConfig, l1_scores, l2_scores

GIB = 2**30
_MEASURED, _NORMALISED = MetricSource.MEASURED, MetricSource.NORMALISED
_AGGREGATED, _MEAN = MetricSource.AGGREGATED, Statistic.MEAN
ProgressFn = Callable[[str], None]
"""Called with the name of each probe step once it is done (for progress bars)."""


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """Sizes of the probes; small sizes keep tests fast, defaults suit a real measurement.

    Attributes:
        matrix_size: Side of the square matrices multiplied.
        repeats: Timings per probe and run; the best counts.
        copy_mib: Size of the buffer copied for memory bandwidth, in MiB.
        disk_path: Path whose file system is measured.
        gpu: Whether to look for a GPU through torch at all.
        warmup: Whether to run the CPU probes once, discarded, before the measured runs (the
            first matmul of a process also starts BLAS threads and faults pages in).
    """

    matrix_size: int = 1024
    repeats: int = 5
    copy_mib: int = 64
    disk_path: str = "/"
    gpu: bool = True
    warmup: bool = True

    def __post_init__(self) -> None:
        if self.matrix_size < 16 or self.repeats < 1 or self.copy_mib < 1:
            raise ValueError("matrix_size >= 16, repeats >= 1 and copy_mib >= 1 are required")


def cpu_gflops(dtype: type[np.floating[Any]], size: int, repeats: int) -> float:
    """Best dense-matmul rate of the CPUs at ``dtype`` in GFLOPS."""
    rng = np.random.default_rng(0)
    a = rng.random((size, size)).astype(dtype)
    b = rng.random((size, size)).astype(dtype)
    np.matmul(a, b)  # warm up: thread pool, caches
    best_s = min(_timed(lambda: np.matmul(a, b)) for _ in range(repeats))
    return 2.0 * size**3 / best_s / 1e9


def mem_bandwidth_gbps(copy_mib: int, repeats: int) -> float:
    """Best ``numpy.copyto`` bandwidth in GB/s (10^9 bytes), bytes read plus bytes written."""
    source = np.ones(copy_mib * 2**20 // 8)
    target = np.empty_like(source)
    np.copyto(target, source)  # fault the pages in before timing
    best_s = min(_timed(lambda: np.copyto(target, source)) for _ in range(repeats))
    return 2.0 * source.nbytes / best_s / 1e9


def host_facts(disk_path: str = "/") -> dict[str, float]:
    """Cores, memory and free disk of this machine."""
    cores = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    return {
        "cpu_cores": float(cores),
        "mem_gib": psutil.virtual_memory().total / GIB,
        "disk_free_gib": psutil.disk_usage(disk_path).free / GIB,
    }


def _torch_cuda() -> Any | None:
    """The torch module when it is installed and sees a CUDA device, else None."""
    if importlib.util.find_spec("torch") is None:
        return None
    torch = importlib.import_module("torch")
    return torch if torch.cuda.is_available() else None


def gpu_name() -> str | None:
    """Name of the first CUDA device seen through torch, or None (absent or no torch)."""
    torch = _torch_cuda()
    return None if torch is None else str(torch.cuda.get_device_name(0))


def gpu_gflops(size: int, repeats: int) -> dict[str, float]:
    """Best matmul rates of the first CUDA device at fp32 and fp16; empty when absent."""
    torch = _torch_cuda()
    if torch is None:
        return {}
    rates: dict[str, float] = {}
    n = max(size, 4096)  # a GPU needs large matrices to reach its rate
    for name, dtype in (("gpu_fp32_gflops", torch.float32), ("gpu_fp16_gflops", torch.float16)):
        a = torch.rand((n, n), device="cuda", dtype=dtype)
        b = torch.rand((n, n), device="cuda", dtype=dtype)
        torch.matmul(a, b)
        torch.cuda.synchronize()
        best_s = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            torch.matmul(a, b)
            torch.cuda.synchronize()
            best_s = min(best_s, time.perf_counter() - start)
        rates[name] = 2.0 * n**3 / best_s / 1e9
    return rates


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


PROBE_STEPS: tuple[str, ...] = ("cpu fp64", "cpu fp32", "memory bandwidth", "host", "gpu")
"""Steps of one run, in order (a progress bar has ``runs * len(PROBE_STEPS)`` steps)."""


def probe_once(settings: ProbeSettings, on_step: ProgressFn | None = None) -> dict[str, float]:
    """One run of every probe: L0 values by metric type (GPU types only when one is present)."""
    step = on_step or (lambda _name: None)
    n, r = settings.matrix_size, settings.repeats
    values = {"cpu_fp64_gflops": cpu_gflops(np.float64, n, r)}
    step(PROBE_STEPS[0])
    values["cpu_fp32_gflops"] = cpu_gflops(np.float32, n, r)
    step(PROBE_STEPS[1])
    values["mem_bandwidth_gbps"] = mem_bandwidth_gbps(settings.copy_mib, r)
    step(PROBE_STEPS[2])
    values.update(host_facts(settings.disk_path))
    step(PROBE_STEPS[3])
    if settings.gpu:
        values.update(gpu_gflops(n, r))
    step(PROBE_STEPS[4])
    return values


@dataclass(frozen=True, slots=True)
class MachineMeasurement:
    """Repeated measurements of this machine and their scores.

    Attributes:
        samples: One value per run for each L0 metric type measured.
        l1: L1 score per category from the mean of the runs (NaN: category not measured).
        l2: L2 score from the mean of the runs.
        l2_per_run: L2 score of each run on its own (its spread is the calibration check).
        timestamp_s: When the measurement ended, seconds since the epoch.
        gpu: Name of the GPU measured, or None when absent.
    """

    samples: Mapping[str, tuple[float, ...]]
    l1: Mapping[str, float]
    l2: float
    l2_per_run: tuple[float, ...]
    timestamp_s: float
    gpu: str | None = None
    node_id: str | None = field(default=None)

    @property
    def runs(self) -> int:
        """Number of runs."""
        return len(self.l2_per_run)

    @property
    def l2_spread(self) -> float:
        """Largest minus smallest per-run L2 score (the CATS calibration target is <= 0.1)."""
        return max(self.l2_per_run) - min(self.l2_per_run)

    def spread_ratio(self, metric_type: str) -> float:
        """Relative spread ``(max - min) / mean`` of one L0 metric over the runs."""
        values = self.samples[metric_type]
        average = statistics.fmean(values)
        return (max(values) - min(values)) / average if average else 0.0

    def records(self) -> tuple[Metric, ...]:
        """L0 records (cur, mean, min, max of each metric), then L1 and L2 records."""
        ts, node = self.timestamp_s, self.node_id
        level0, level1, level2 = MetricLevel.L0, MetricLevel.L1, MetricLevel.L2
        out: list[Metric] = []
        for name, values in self.samples.items():
            unit = metric_spec(name).unit
            for statistic, value in (
                (Statistic.CUR, values[-1]),
                (Statistic.MEAN, statistics.fmean(values)),
                (Statistic.MIN, min(values)),
                (Statistic.MAX, max(values)),
            ):
                out.append(Metric(name, unit, _MEASURED, statistic, level0, value, ts, node))
        for category, score in self.l1.items():
            if not np.isnan(score):
                out.append(Metric(category, "score", _NORMALISED, _MEAN, level1, score, ts, node))
        out.append(Metric("score", "score", _AGGREGATED, _MEAN, level2, self.l2, ts, node))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the records, per-run L2 scores and spreads."""
        return {
            "runs": self.runs,
            "gpu": self.gpu,
            "l2": self.l2,
            "l2_per_run": list(self.l2_per_run),
            "l2_spread": self.l2_spread,
            "spread_ratio": {name: self.spread_ratio(name) for name in self.samples},
            "records": [record.to_dict() for record in self.records()],
        }


def measure_machine(
    runs: int = 5,
    settings: ProbeSettings | None = None,
    config: MetricConfig = DEFAULT_CONFIG,
    on_step: ProgressFn | None = None,
    node_id: str | None = None,
) -> MachineMeasurement:
    """Measure this machine ``runs`` times and score it.

    Args:
        runs: Number of runs (>= 1).
        settings: Probe sizes; defaults when None.
        config: Scoring configuration (the same one the aggregator uses).
        on_step: Called after every probe step (``runs * len(PROBE_STEPS)`` calls).
        node_id: Node the records describe, if known.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    settings = settings or ProbeSettings()
    if settings.warmup:
        cpu_gflops(np.float64, settings.matrix_size, 1)
        mem_bandwidth_gbps(settings.copy_mib, 1)
    per_run = [probe_once(settings, on_step) for _ in range(runs)]
    names = list(per_run[0])
    matrix: npt.NDArray[np.float64] = np.array(
        [[run.get(n, np.nan) for n in names] for run in per_run]
    )
    run_l2 = l2_scores(l1_scores(names, matrix, config), config)
    mean_l1 = l1_scores(names, np.nanmean(matrix, axis=0), config)
    return MachineMeasurement(
        samples={name: tuple(float(v) for v in matrix[:, i]) for i, name in enumerate(names)},
        l1={str(c): float(mean_l1[0, i]) for i, c in enumerate(CATEGORIES)},
        l2=float(l2_scores(mean_l1, config)[0]),
        l2_per_run=tuple(float(v) for v in run_l2),
        timestamp_s=time.time(),
        gpu=gpu_name() if settings.gpu and "gpu_fp32_gflops" in names else None,
        node_id=node_id,
    )
