"""How the framework turns a Score plugin's raw values into points (shared by every caller).

The online scheduler, the batch planners and the diagnosis of a placement scale alike, so that
"why here" shows exactly the points the decision was made with.
"""

from __future__ import annotations

import numpy as np

from suanwang.scheduling.framework import FloatArray

SCORE_MAX = 100.0
"""Points of the best candidate of one Score plugin (before its weight)."""


def scale_scores(raw: FloatArray, higher_is_better: bool) -> FloatArray:
    """Raw values to 0..100: the best gets 100, the others less by their relative gap.

    The gap to the best is divided by ``max(|high|, |low|, high - low)`` rather than by the
    range alone, so values 1 % apart score 1 point apart however few candidates there are (a
    plain min-max would put two near-equal candidates at 100 and 0, and hysteresis could then
    never hold). Non-finite values score 0.
    """
    finite = np.isfinite(raw)
    n_finite = np.count_nonzero(finite)
    if n_finite == 0:
        return np.zeros_like(raw)
    # Candidates' values are mostly all finite: then no masking is needed (the same values).
    every = n_finite == raw.size
    values = raw if every else raw[finite]
    # The ufuncs' reduce directly: ndarray.min and max add a Python layer around it.
    low, high = float(np.minimum.reduce(values)), float(np.maximum.reduce(values))
    scale = max(abs(high), abs(low), high - low)
    if scale == 0.0:
        return np.full(raw.shape, SCORE_MAX) if every else np.where(finite, SCORE_MAX, 0.0)
    gap = (high - raw) if higher_is_better else (raw - low)
    scaled: FloatArray = (1.0 - gap / scale) * SCORE_MAX
    return scaled if every else np.where(finite, scaled, 0.0)
