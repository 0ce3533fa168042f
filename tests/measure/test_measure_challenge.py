"""The attestation challenge: honest answers pass the sampled check, altered ones do not."""

from __future__ import annotations

from suanwang.measure.challenge import answer, check_rows


def test_an_honest_answer_passes_on_any_sample() -> None:
    given = answer(seed=42, size=64)
    assert given.measured_gflops > 0
    assert check_rows(42, 64, list(given.row_checksums), [0, 17, 63])


def test_an_altered_row_or_another_seed_fails() -> None:
    checks = list(answer(seed=42, size=64).row_checksums)
    altered = checks.copy()
    altered[17] *= 1.001
    assert not check_rows(42, 64, altered, [17])
    assert not check_rows(43, 64, checks, [0, 1])
    assert not check_rows(42, 64, checks[:-1], [0])
