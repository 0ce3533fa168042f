"""The Attestor: trust earned by consistent answers, lost to a wrong one or an inflated claim."""

from __future__ import annotations

import pytest

from suanwang.control.ports import ManualClock
from suanwang.measure.challenge import answer
from suanwang.service.attest import Attestor, AttestPolicy, Trust
from suanwang.storage import open_store

POLICY = AttestPolicy(interval_s=10.0, jitter=0.5, size=32, trust_after=3, tolerance=0.5)


def _answer(attestor: Attestor, node: str, claimed: float, *, wrong: bool = False) -> str:
    challenge = attestor.challenge(node)
    assert challenge is not None
    done = answer(challenge.seed, challenge.size)
    checks = [0.0] * challenge.size if wrong else list(done.row_checksums)
    judged = attestor.check(node, challenge.id, checks, done.measured_gflops, claimed)
    assert judged is not None
    return judged.verdict.value


def test_trust_is_earned_after_n_consistent_answers_at_jittered_times() -> None:
    clock = ManualClock(1000.0)
    attestor = Attestor(None, clock, POLICY)
    assert attestor.challenge("n1") is None  # not joined
    attestor.join("n1")
    for _ in range(3):
        assert attestor.view("n1").trust is Trust.UNVERIFIED
        assert _answer(attestor, "n1", claimed=0.001) == "consistent"
        due_s = attestor.view("n1").due_s
        assert due_s is not None
        assert 5.0 <= due_s - clock.now_s() <= 15.0
        assert attestor.challenge("n1") is None  # not due yet
        clock.advance(15.0)
    standing = attestor.view("n1")
    assert standing.trust is Trust.ATTESTED
    assert standing.consistent == 3


@pytest.mark.parametrize(
    ("wrong", "claimed", "reason"),
    [(True, 0.001, "wrong result"), (False, 1e9, "inflated claim")],
)
def test_a_wrong_answer_or_an_inflated_claim_quarantines_until_an_admin_asks(
    wrong: bool, claimed: float, reason: str
) -> None:
    attestor = Attestor(None, ManualClock(0.0), POLICY)
    attestor.join("n1")
    _answer(attestor, "n1", claimed, wrong=wrong)
    standing = attestor.view("n1")
    assert standing.trust is Trust.QUARANTINED
    assert standing.reason.startswith(reason)
    assert attestor.quarantined() == {"n1": standing.reason}
    attestor.join("n1")  # a rejoin does not lift it
    assert attestor.challenge("n1") is None
    attestor.request("n1")
    assert _answer(attestor, "n1", claimed=0.001) == "consistent"
    assert attestor.view("n1").trust is Trust.UNVERIFIED


def test_an_unknown_or_stale_challenge_is_not_judged() -> None:
    clock = ManualClock(0.0)
    attestor = Attestor(None, clock, POLICY)
    attestor.join("n1")
    first = attestor.challenge("n1")
    assert first is not None
    assert attestor.challenge("n1") == first  # handed out again until answered
    assert attestor.check("n1", "nope", [], 1.0, 1.0) is None
    clock.advance(POLICY.answer_within_s)
    second = attestor.challenge("n1")
    assert second is not None
    assert second.id != first.id  # a fresh seed once the first went unanswered too long
    assert attestor.check("n1", first.id, [], 1.0, 1.0) is None


def test_trust_is_rebuilt_from_the_stored_attestations() -> None:
    with open_store("memory://") as stores:
        attestor = Attestor(stores.trust, ManualClock(0.0), POLICY)
        attestor.join("n1")
        attestor.join("n2")
        _answer(attestor, "n1", claimed=1e9)
        _answer(attestor, "n2", claimed=0.001)
        again = Attestor(stores.trust, ManualClock(1.0), POLICY)
        assert set(again.quarantined()) == {"n1"}
        assert again.view("n2").consistent == 1
        actions = [entry.action for entry in stores.audit.list()]
        assert actions == ["node.attest", "node.attest"]
