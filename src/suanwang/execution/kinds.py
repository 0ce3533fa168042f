"""Task kinds: the real work a task does, sized to the compute its spec declares.

A kind is a plain function ``kind(work) -> result`` that runs in a worker (a local process or
a Ray worker): it takes a ``Work`` record — the task's declared work (``work_gflop``) at its
precision and a seed — does that much arithmetic, and returns a small dict with a
``checksum`` (so the work cannot be skipped), the operations done (``flop``) and the
``seconds`` it took. Built-in kinds:

* ``matmul``: square matrix products with ``2 n^3`` close to the work, ``n`` capped per call
  (``MATMUL_MAX_N``) and the product repeated for bigger work — dense linear algebra;
* ``transcode``: frames through a 2-D FFT, a frequency-domain filter, the inverse FFT and a
  quantisation step — the shape of a video transcoder's or filter's inner loop;
* ``inference``: the forward pass of a small MLP (ReLU layers) over a batch sized to the work.

Work is done in whole units (a product, a frame, a sample), at least one for any work above
zero, and ``flop`` reports what was really done. CPU kernels compute at float64 for ``fp64``
work and at float32 otherwise (numpy has no fast fp16 or int8 products); the operation count is
that of the declared work either way.

Which kind a task runs (``select_kind``), in order:

1. ``task_type`` or ``service_id`` of the form ``module:function`` names a user function,
   imported in the worker — only where ``allow_user_functions`` is set, since it runs
   arbitrary code (trusted deployments);
2. ``task_type`` naming a built-in kind runs that kind;
3. anything else (catalogue names such as ``video-analytics-frame``, or none) runs the
   built-in kind of the task's workload class: dense -> ``matmul``, inference ->
   ``inference``, sparse and general -> ``transcode``.

A user function takes the same ``Work`` record and returns anything picklable.
"""

from __future__ import annotations

import importlib
import itertools
import math
import os
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from suanwang.measure.compute import WorkloadClass
from suanwang.model import Precision, TaskSpec
from suanwang.scheduling.cycle import workload_class_of

MATMUL_MAX_N = 2048
"""Largest matrix side per product (three float64 matrices of this side take 100 MB)."""
FRAME_SIDE = 256
"""Side of a transcode frame in pixels."""
FRAMES_PER_CALL = 32
"""Frames transformed together (bounds memory: 32 float32 frames take 8 MB)."""
MLP_LAYERS = (512, 1024, 1024, 256)
"""Widths of the inference MLP, input first."""
BATCH_PER_CALL = 256
"""Samples per forward pass of the inference kind."""


class KindError(ValueError):
    """A task's kind cannot be chosen or loaded (unknown name, user functions off, bad path)."""


@dataclass(frozen=True, slots=True)
class Work:
    """What a worker needs to run a task's kind: small and picklable.

    Attributes:
        work_gflop: Work to do, in 10^9 operations.
        precision: Precision of the work.
        task_id: Task the work belongs to.
        seed: Seed of the kernel's input data (stable per task id).
    """

    work_gflop: float
    precision: Precision = Precision.FP32
    task_id: str = ""
    seed: int = 0

    @classmethod
    def of(cls, task_id: str, spec: TaskSpec) -> Work:
        """The work of task ``task_id`` with demand ``spec``."""
        return cls(spec.work_gflop, spec.precision, task_id, zlib.crc32(task_id.encode()))


@dataclass(frozen=True, slots=True)
class WorkOutcome:
    """What a worker returns for one run.

    Attributes:
        result: The kind's return value (built-ins: ``checksum``, ``flop``, ``seconds``).
        compute_s: Time spent in the kind, measured in the worker.
        started_at_s: Wall-clock time the kind began (seconds since the epoch).
        ran_on: Where it ran: ``pid <n>`` for a local process, the Ray node id on Ray.
    """

    result: object
    compute_s: float
    started_at_s: float
    ran_on: str


Kind = Callable[[Work], object]
"""A kind: does a task's work in a worker and returns a small picklable result."""
FloatMatrix = npt.NDArray[np.floating]


def _dtype(precision: Precision) -> type[np.floating]:
    return np.float64 if precision is Precision.FP64 else np.float32


def _summary(checksum: float, flop: float, started_s: float) -> dict[str, float]:
    return {"checksum": checksum, "flop": flop, "seconds": time.perf_counter() - started_s}


def matmul_shape(work_gflop: float) -> tuple[int, int]:
    """(matrix side, repetitions) of the ``matmul`` kind for ``work_gflop``; (0, 0) for none."""
    total = work_gflop * 1e9
    if total <= 0:
        return 0, 0
    side = max(1, min(MATMUL_MAX_N, round((total / 2.0) ** (1.0 / 3.0))))
    return side, max(1, round(total / (2.0 * side**3)))


def matmul(work: Work) -> dict[str, float]:
    """Square matrix products totalling ``work.work_gflop`` (see the module docstring)."""
    started = time.perf_counter()
    side, repeats = matmul_shape(work.work_gflop)
    if repeats == 0:
        return _summary(0.0, 0.0, started)
    rng = np.random.default_rng(work.seed)
    dtype = _dtype(work.precision)
    a = rng.standard_normal((side, side), dtype=dtype)
    b = rng.standard_normal((side, side), dtype=dtype)
    checksum = 0.0
    for _ in range(repeats):
        c = a @ b
        # Reading the product back keeps every repetition live; it costs n^2, not n^3.
        checksum += float(c[0].sum())
    return _summary(checksum, repeats * 2.0 * side**3, started)


def transcode_flop_per_frame(side: int = FRAME_SIDE) -> float:
    """Operations one transcode frame costs: real 2-D FFT there and back, filter, quantise."""
    pixels = side * side
    fft = 2.5 * pixels * math.log2(pixels)  # a real FFT is about half of 5 N log2 N
    bins = side * (side // 2 + 1)
    return 2.0 * fft + 6.0 * bins + 2.0 * pixels


def transcode(work: Work) -> dict[str, float]:
    """Frames through FFT -> filter -> inverse FFT -> quantise, as many as the work asks."""
    started = time.perf_counter()
    per_frame = transcode_flop_per_frame()
    frames = max(1, round(work.work_gflop * 1e9 / per_frame))
    if work.work_gflop <= 0:
        return _summary(0.0, 0.0, started)
    rng = np.random.default_rng(work.seed)
    dtype = _dtype(work.precision)
    fy = np.fft.fftfreq(FRAME_SIDE)[:, None]
    fx = np.fft.rfftfreq(FRAME_SIDE)[None, :]
    low_pass = np.exp(-(fx**2 + fy**2) / 0.02).astype(dtype)  # a Gaussian blur kernel
    source = rng.standard_normal((FRAMES_PER_CALL, FRAME_SIDE, FRAME_SIDE), dtype=dtype)
    checksum, done = 0.0, 0
    while done < frames:
        batch = min(FRAMES_PER_CALL, frames - done)
        spectrum = np.fft.rfft2(source[:batch]) * low_pass
        filtered = np.fft.irfft2(spectrum, s=(FRAME_SIDE, FRAME_SIDE))
        checksum += float(np.round(filtered * 16.0).sum())
        done += batch
    return _summary(checksum, frames * per_frame, started)


def inference_flop_per_sample(layers: tuple[int, ...] = MLP_LAYERS) -> float:
    """Operations of one sample's forward pass: a multiply-add per weight, a ReLU per unit."""
    return float(sum(2 * a * b + b for a, b in itertools.pairwise(layers)))


def inference(work: Work) -> dict[str, float]:
    """An MLP forward pass over a batch of samples sized to the work."""
    started = time.perf_counter()
    per_sample = inference_flop_per_sample()
    samples = max(1, round(work.work_gflop * 1e9 / per_sample))
    if work.work_gflop <= 0:
        return _summary(0.0, 0.0, started)
    rng = np.random.default_rng(work.seed)
    dtype = _dtype(work.precision)
    weights = [
        rng.standard_normal((a, b), dtype=dtype) / dtype(math.sqrt(a))
        for a, b in itertools.pairwise(MLP_LAYERS)
    ]
    inputs = rng.standard_normal((BATCH_PER_CALL, MLP_LAYERS[0]), dtype=dtype)
    checksum, done = 0.0, 0
    while done < samples:
        batch = min(BATCH_PER_CALL, samples - done)
        hidden: FloatMatrix = inputs[:batch]
        for weight in weights:
            hidden = np.maximum(hidden @ weight, 0.0)
        checksum += float(hidden.argmax(axis=1).sum())
        done += batch
    return _summary(checksum, samples * per_sample, started)


BUILTIN_KINDS: Mapping[str, Kind] = MappingProxyType(
    {"matmul": matmul, "transcode": transcode, "inference": inference}
)
"""The built-in kinds by name."""

CLASS_KINDS: Mapping[WorkloadClass, str] = MappingProxyType(
    {
        WorkloadClass.DENSE: "matmul",
        WorkloadClass.INFERENCE: "inference",
        WorkloadClass.SPARSE: "transcode",
        WorkloadClass.GENERAL: "transcode",
    }
)
"""The kind a task runs when it names none: by its workload class."""


def is_function_path(text: str) -> bool:
    """True when ``text`` has the shape ``module.path:function``."""
    module, sep, name = text.partition(":")
    return bool(sep) and all(p.isidentifier() for p in (*module.split("."), *name.split(".")))


def select_kind(spec: TaskSpec, *, allow_user_functions: bool = False) -> str:
    """The kind ``spec`` runs: a built-in name or a ``module:function`` path (module docstring).

    Raises:
        KindError: The spec names a user function and user functions are not allowed.
    """
    for name in (spec.task_type, spec.service_id):
        if name is not None and is_function_path(name):
            if not allow_user_functions:
                raise KindError(
                    f"{name!r} names a user function, and user functions are disabled "
                    "(allow_user_functions; trusted deployments only)"
                )
            return name
    if spec.task_type is not None and spec.task_type in BUILTIN_KINDS:
        return spec.task_type
    return CLASS_KINDS[workload_class_of(spec)]


def resolve_kind(name: str, *, allow_user_functions: bool = False) -> Kind:
    """The function of kind ``name``: a built-in, or a user function imported by its path.

    Raises:
        KindError: Unknown name, user functions disabled, or the path does not lead to a
            callable.
    """
    kind = BUILTIN_KINDS.get(name)
    if kind is not None:
        return kind
    if not is_function_path(name):
        raise KindError(
            f"unknown task kind {name!r}; built-in kinds: {', '.join(BUILTIN_KINDS)} "
            "(or a module:function path where user functions are allowed)"
        )
    if not allow_user_functions:
        raise KindError(f"user function {name!r} refused: allow_user_functions is off")
    module_name, _, attribute = name.partition(":")
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as error:
        raise KindError(f"user function {name!r}: cannot import {module_name!r}: {error}") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise KindError(f"user function {name!r}: {module_name!r} has no {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise KindError(f"user function {name!r} is not callable")
    return target


def run_work(name: str, work: Work, allow_user_functions: bool = False) -> WorkOutcome:
    """Run kind ``name`` on ``work`` here and time it (the entry point of every worker).

    Raises:
        KindError: The kind cannot be resolved.
        Exception: Whatever the kind raises.
    """
    kind = resolve_kind(name, allow_user_functions=allow_user_functions)
    started_at_s = time.time()
    started = time.perf_counter()
    result = kind(work)
    return WorkOutcome(result, time.perf_counter() - started, started_at_s, f"pid {os.getpid()}")
