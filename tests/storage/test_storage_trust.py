"""The TrustStore contract (enrolment tokens, attestations), run against every adapter."""

from __future__ import annotations

import threading

import pytest

from suanwang.control.stores import AuditEvent, PrincipalExistsError
from suanwang.control.trust import (
    Attestation,
    EnrolRefusal,
    EnrolRefusedError,
    TrustStore,
    Verdict,
)
from suanwang.storage import Stores

KEY = bytes(range(32))
NOW_S = 1_700_000_000.0


def _trust(stores: Stores) -> TrustStore:
    assert stores.trust is not None
    return stores.trust


def test_every_adapter_implements_the_port(stores: Stores) -> None:
    assert isinstance(stores.trust, TrustStore)


def test_a_token_enrols_once_and_everything_commits_together(stores: Stores) -> None:
    trust = _trust(stores)
    issued = trust.create_enrol_token("edge-1", "acme", NOW_S + 60, NOW_S)
    assert issued.plaintext.startswith("swe_")
    enrolled = trust.redeem(issued.plaintext, "edge-1", KEY, "kid-1", NOW_S + 1)
    principal = enrolled.principal
    assert principal.tenant == "acme"
    assert principal.node_ids == {"edge-1"}
    assert principal.agent_key_id == "kid-1"
    assert stores.principals.authenticate(enrolled.token.plaintext) == principal
    assert stores.agents.bindings() == [enrolled.binding]
    actions = [entry.action for entry in stores.audit.list()]
    assert actions == ["agent.enrol", "agent.key"]
    with pytest.raises(EnrolRefusedError) as refused:
        trust.redeem(issued.plaintext, "edge-1", bytes(32), "kid-2", NOW_S + 2)
    assert refused.value.reason is EnrolRefusal.USED
    assert len(stores.agents.bindings()) == 1


@pytest.mark.parametrize(
    ("plaintext", "node", "at_s", "reason"),
    [
        ("swe_nothing", "edge-1", NOW_S, EnrolRefusal.UNKNOWN),
        (None, "edge-1", NOW_S + 61, EnrolRefusal.EXPIRED),
        (None, "edge-2", NOW_S, EnrolRefusal.OTHER_NODE),
    ],
)
def test_refusals_name_their_reason_and_write_nothing(
    stores: Stores, plaintext: str | None, node: str, at_s: float, reason: EnrolRefusal
) -> None:
    trust = _trust(stores)
    issued = trust.create_enrol_token("edge-1", "acme", NOW_S + 60, NOW_S)
    with pytest.raises(EnrolRefusedError) as refused:
        trust.redeem(plaintext or issued.plaintext, node, KEY, "kid-1", at_s)
    assert refused.value.reason is reason
    assert stores.agents.bindings() == []
    assert stores.audit.list() == []


def test_of_concurrent_redemptions_exactly_one_wins(stores: Stores) -> None:
    trust = _trust(stores)
    issued = trust.create_enrol_token("edge-1", "acme", NOW_S + 60, NOW_S)
    outcomes: list[str] = []

    def redeem(index: int) -> None:
        try:
            trust.redeem(issued.plaintext, "edge-1", bytes([index]) * 32, f"kid-{index}", NOW_S)
            outcomes.append("ok")
        except EnrolRefusedError as error:
            outcomes.append(error.reason.value)

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["ok"] + ["used"] * 5


def test_attestations_read_back_newest_first_with_their_audit_entries(stores: Stores) -> None:
    trust = _trust(stores)
    first = Attestation("edge-1", NOW_S, 7, 128, 10.0, 12.5, Verdict.CONSISTENT, "ok")
    second = Attestation("edge-1", NOW_S + 1, 8, 128, 10.0, 1.0, Verdict.INFLATED, "slow")
    other = Attestation("edge-2", NOW_S + 2, 9, 128, 10.0, 0.0, Verdict.WRONG_RESULT, "bad")
    for attestation in (first, second, other):
        event = AuditEvent("system", "node.attest", f"node:{attestation.node_id}", "", NOW_S)
        trust.add_attestation(attestation, event)
    assert trust.attestations("edge-1") == [second, first]
    assert trust.attestations(limit=1) == [other]
    assert [entry.action for entry in stores.audit.list()] == ["node.attest"] * 3


def test_a_key_enrolled_before_is_refused_and_the_token_stays_unused(stores: Stores) -> None:
    trust = _trust(stores)
    first = trust.create_enrol_token("edge-1", "acme", NOW_S + 60, NOW_S)
    trust.redeem(first.plaintext, "edge-1", KEY, "kid-1", NOW_S)
    second = trust.create_enrol_token("edge-1", "acme", NOW_S + 60, NOW_S)
    with pytest.raises(PrincipalExistsError):
        trust.redeem(second.plaintext, "edge-1", KEY, "kid-1", NOW_S)
    enrolled = trust.redeem(second.plaintext, "edge-1", bytes(32), "kid-2", NOW_S)
    assert enrolled.principal.agent_key_id == "kid-2"
