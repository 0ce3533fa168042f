"""CATS update policies and the staleness rule."""

import numpy as np
import pytest

from suanwang.measure import StalenessPolicy, UpdateDecision, UpdateMode, UpdatePolicy

A = np.array([4.0, 0.5])
SMALL = np.array([4.1, 0.52])  # < 10 % change
BIG = np.array([2.0, 0.5])  # 50 % change on the first metric

APPLY, SKIP, HOLD = UpdateDecision.APPLY, UpdateDecision.SKIP, UpdateDecision.HOLD

CASES = [
    # mode, last values, last applied at, new values, now, expected
    (UpdateMode.INTERVAL, None, None, A, 0.0, APPLY),
    (UpdateMode.INTERVAL, A, 0.0, BIG, 5.0, SKIP),
    (UpdateMode.INTERVAL, A, 0.0, SMALL, 10.0, APPLY),
    (UpdateMode.THRESHOLD, A, 0.0, SMALL, 5.0, SKIP),
    (UpdateMode.THRESHOLD, A, 0.0, BIG, 1.0, APPLY),
    (UpdateMode.THRESHOLD, A, 0.0, SMALL, 10.0, APPLY),  # heartbeat
    (UpdateMode.DAMPENED, A, 0.0, BIG, 1.0, HOLD),
    (UpdateMode.DAMPENED, A, 0.0, BIG, 6.0, APPLY),
    (UpdateMode.DAMPENED, A, 0.0, SMALL, 6.0, SKIP),
    (UpdateMode.THRESHOLD, A, 0.0, np.array([4.0, np.nan]), 1.0, APPLY),  # metric vanished
]


@pytest.mark.parametrize(("mode", "last", "at", "new", "now", "expected"), CASES)
def test_update_policy_decisions(mode, last, at, new, now, expected):  # noqa: PLR0917
    policy = UpdatePolicy(mode, interval_s=10.0, threshold_ratio=0.1, hold_down_s=5.0)
    assert policy.decide(last, at, new, now) is expected


def test_staleness_penalises_then_excludes():
    policy = StalenessPolicy(stale_after_s=30.0, exclude_after_s=130.0, max_penalty=0.5)
    ages = np.array([0.0, 30.0, 80.0, 129.0, 130.0, np.inf])
    np.testing.assert_allclose(policy.factor(ages), [1.0, 1.0, 0.75, 0.505, 0.0, 0.0])
    assert policy.stale(ages).tolist() == [False, True, True, True, True, True]
    assert policy.excluded(ages).tolist() == [False, False, False, False, True, True]
    with pytest.raises(ValueError, match="stale_after_s"):
        StalenessPolicy(stale_after_s=10.0, exclude_after_s=5.0)
    with pytest.raises(ValueError, match="negative"):
        UpdatePolicy(interval_s=-1.0)
