"""The attestation challenge: a seeded matrix product an agent computes and the plane checks.

Both matrices derive from the challenge's seed (``numpy.random.default_rng``, float64), so the
control plane never sends them. The agent returns, per row of the product ``C = A @ B``, the sum
of the absolute values of that row, and the rate it computed the product at. The control plane
recomputes a few rows it picks after the answer came (``A[rows] @ B``: ``size`` times cheaper per
row than the whole product) and compares. The checksum is not linear in ``C``, so it cannot be
had from ``A @ (B @ 1)`` without the product itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

CHECK_RTOL = 1e-6
"""Relative tolerance of a row's checksum (BLAS libraries sum in different orders)."""


def matrices(seed: int, size: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The two ``size`` x ``size`` float64 matrices of the challenge with ``seed``."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((size, size)), rng.standard_normal((size, size))


@dataclass(frozen=True, slots=True)
class ChallengeAnswer:
    """What an agent answers a challenge with.

    Attributes:
        row_checksums: Per row of ``A @ B``, the sum of its absolute values.
        measured_gflops: ``2 size^3`` flops over the seconds the product took, in GFLOP/s.
    """

    row_checksums: tuple[float, ...]
    measured_gflops: float


def answer(seed: int, size: int) -> ChallengeAnswer:
    """Compute the challenge (the agent's side)."""
    a, b = matrices(seed, size)
    started_s = time.perf_counter()
    product = a @ b
    elapsed_s = max(time.perf_counter() - started_s, 1e-9)
    checksums = np.abs(product).sum(axis=1)
    return ChallengeAnswer(tuple(float(x) for x in checksums), 2.0 * size**3 / elapsed_s / 1e9)


def check_rows(seed: int, size: int, row_checksums: list[float], rows: list[int]) -> bool:
    """Whether the answer's checksums of ``rows`` are those of the true product.

    Args:
        seed: The challenge's seed.
        size: Its matrix side.
        row_checksums: The agent's answer (one per row; another length is wrong).
        rows: The rows to recompute, picked by the caller after the answer arrived.
    """
    if len(row_checksums) != size:
        return False
    a, b = matrices(seed, size)
    expected = np.abs(a[rows] @ b).sum(axis=1)
    given = np.asarray([row_checksums[row] for row in rows], dtype=np.float64)
    return bool(np.allclose(given, expected, rtol=CHECK_RTOL, atol=0.0))
