"""Signed registrations and metric reports: every refusal with its reason, valid ones accepted."""

import pytest

from suanwang.security import (
    KeyPair,
    KeyRing,
    MetricReport,
    NodeRegistration,
    ParallelChecker,
    RejectReason,
    Role,
    SignedEnvelope,
    VerificationError,
    Verifier,
    canonical_json,
    parse_body,
    seal,
    sign_registration,
    sign_report,
)

NOW = 1_700_000_000.0


@pytest.fixture
def world():
    provider = KeyPair.generate(Role.PROVIDER)
    agent = KeyPair.generate(Role.AGENT)
    keyring = KeyRing()
    keyring.trust_provider(provider.public_key, nodes=["n1", "n2"])
    verifier = Verifier(keyring, max_age_s=30.0, max_skew_s=5.0)
    registration = NodeRegistration("n1", agent.public_bytes, cpu_cores=8, mem_gib=32)
    verdict = verifier.register(sign_registration(provider, registration, NOW), NOW)
    assert verdict.ok, verdict
    return provider, agent, verifier


def _report(agent, node="n1", ts=NOW, **values):
    return sign_report(agent, MetricReport(node, values or {"cpu_free_cores": 3.0}, ts))


def test_valid_report_is_accepted(world):
    _, agent, verifier = world
    verdict = verifier.verify(_report(agent, load_ratio=0.25).to_wire(), NOW + 1)
    assert verdict.ok
    assert verdict.reason is None
    assert verdict.report == MetricReport("n1", {"load_ratio": 0.25}, NOW)
    assert verdict.key_id == agent.key_id
    verdict.raise_for_reason()


def test_tampered_payload_is_rejected(world):
    _, agent, verifier = world
    envelope = _report(agent, cpu_free_cores=3.0)
    forged = SignedEnvelope(envelope.body.replace(b"3.0", b"99.0"), envelope.signature)
    verdict = verifier.verify(forged, NOW)
    assert verdict.reason is RejectReason.BAD_SIGNATURE
    with pytest.raises(VerificationError) as caught:
        verdict.raise_for_reason()
    assert caught.value.reason is RejectReason.BAD_SIGNATURE


def test_replayed_report_is_rejected(world):
    _, agent, verifier = world
    wire = _report(agent).to_wire()
    assert verifier.verify(wire, NOW).ok
    assert verifier.verify(wire, NOW + 2).reason is RejectReason.REPLAY


def test_old_and_future_reports_are_rejected(world):
    _, agent, verifier = world
    assert verifier.verify(_report(agent, ts=NOW - 31), NOW).reason is RejectReason.EXPIRED
    assert verifier.verify(_report(agent, ts=NOW + 6), NOW).reason is RejectReason.FUTURE


def test_wrong_key_is_rejected(world):
    _, agent, verifier = world
    intruder = KeyPair.generate(Role.AGENT)
    # Claims the registered agent's key id, signs with another key.
    body = canonical_json(
        {
            "v": 1,
            "kind": "metrics",
            "kid": agent.key_id,
            "nonce": "00" * 16,
            "ts": NOW,
            "payload": {"node_id": "n1", "values": {}},
        }
    )
    verdict = verifier.verify(SignedEnvelope(body, intruder.sign(body)), NOW)
    assert verdict.reason is RejectReason.BAD_SIGNATURE
    # Its own key id is not trusted at all.
    assert verifier.verify(_report(intruder), NOW).reason is RejectReason.UNKNOWN_KEY


def test_report_for_a_node_not_bound_to_the_key_is_rejected(world):
    _, agent, verifier = world
    verdict = verifier.verify(_report(agent, node="n2"), NOW)
    assert verdict.reason is RejectReason.NODE_NOT_BOUND
    assert "n2" in verdict.detail


def test_registration_rules(world):
    provider, agent, verifier = world
    stranger = KeyPair.generate(Role.AGENT)
    outside = NodeRegistration("n9", stranger.public_bytes)
    verdict = verifier.register(sign_registration(provider, outside, NOW), NOW)
    assert verdict.reason is RejectReason.NODE_NOT_BOUND  # provider owns n1, n2 only
    assert verifier.keyring.agent(stranger.key_id) is None
    rogue = KeyPair.generate(Role.PROVIDER)
    rogue_registration = sign_registration(
        rogue, NodeRegistration("n2", stranger.public_bytes), NOW
    )
    assert verifier.register(rogue_registration, NOW).reason is RejectReason.UNKNOWN_KEY
    # An agent key cannot register nodes; a report is not a registration.
    assert verifier.register(_report(agent), NOW).reason is RejectReason.MALFORMED
    second = sign_registration(provider, NodeRegistration("n2", agent.public_bytes), NOW)
    assert verifier.register(second, NOW).ok
    assert verifier.verify(_report(agent, node="n2"), NOW).ok


@pytest.mark.parametrize(
    "wire",
    [b"no-dot", b"!!!." + b"{}", b"AAAA.{}", b"A" * 88 + b".not json"],
)
def test_malformed_bytes_are_rejected(world, wire):
    assert world[2].verify(wire, NOW).reason is RejectReason.MALFORMED


def test_malformed_payload_and_kind(world):
    _, agent, verifier = world
    bad_values = seal(agent, "metrics", {"node_id": "n1", "values": {"x": "high"}}, NOW)
    assert verifier.verify(bad_values, NOW).reason is RejectReason.MALFORMED
    assert verifier.verify(seal(agent, "gossip", {}, NOW), NOW).reason is RejectReason.MALFORMED


def test_canonical_body_is_what_is_signed():
    agent = KeyPair.generate(Role.AGENT)
    envelope = seal(agent, "metrics", {"b": 1, "a": [1.5, "x"]}, NOW, nonce="ab" * 16)
    header, payload = parse_body(envelope.body)
    assert envelope.body == canonical_json(
        {
            "v": 1,
            "kind": "metrics",
            "kid": agent.key_id,
            "nonce": "ab" * 16,
            "ts": NOW,
            "payload": {"a": [1.5, "x"], "b": 1},
        }
    )
    assert b" " not in envelope.body
    assert header.nonce == "ab" * 16
    assert payload == {"a": [1.5, "x"], "b": 1}
    assert SignedEnvelope.from_wire(envelope.to_wire()) == envelope
    with pytest.raises(ValueError, match=r"NaN|JSON"):
        canonical_json({"x": float("nan")})


def _mixed_batch(agent):
    good = [_report(agent, ts=NOW, load_ratio=i / 10) for i in range(5)]
    forged = SignedEnvelope(good[1].body.replace(b"0.1", b"0.9"), good[1].signature)
    return [*good, good[0], forged, _report(agent, node="n2"), b"junk"]


def test_verify_many_gives_the_same_verdicts_as_one_by_one(world):
    provider, agent, verifier = world
    batch = _mixed_batch(agent)
    many = [v.reason for v in verifier.verify_many(batch, NOW)]
    single_keyring = KeyRing()
    single_keyring.trust_provider(provider.public_key)
    single_keyring.bind_agent(agent.public_key, "n1")
    single = Verifier(single_keyring)
    one_by_one = [single.verify(envelope, NOW).reason for envelope in batch]
    assert many == one_by_one
    assert many == [None] * 5 + [
        RejectReason.REPLAY,
        RejectReason.BAD_SIGNATURE,
        RejectReason.NODE_NOT_BOUND,
        RejectReason.MALFORMED,
    ]


def test_parallel_checker_agrees_with_in_process_checks(world):
    _, agent, verifier = world
    batch = _mixed_batch(agent)
    with ParallelChecker(workers=2) as checker:
        checker.warm_up()
        reasons = [v.reason for v in verifier.iter_verify(batch, NOW, checker, chunk=2)]
    assert reasons.count(None) == 5
    assert RejectReason.BAD_SIGNATURE in reasons


def test_nonce_cache_forgets_only_expired_nonces():
    from suanwang.security import NonceCache

    cache = NonceCache(keep_s=10.0, max_entries=3)
    assert cache.add("k", "a", 0.0, 0.0)
    assert not cache.add("k", "a", 0.0, 5.0)
    assert cache.add("k", "b", 5.0, 5.0)
    cache.purge(10.0)
    assert len(cache) == 1  # "a" expired at 10 s, "b" kept until 15 s
    assert cache.add("k", "c", 10.0, 10.0)
    assert cache.add("k", "d", 10.0, 10.0)
    assert cache.full(10.0)
    assert not cache.full(15.0)


def test_full_nonce_cache_refuses_rather_than_forgets(world):
    _, agent, verifier = world
    verifier.nonces.max_entries = len(verifier.nonces) + 1
    assert verifier.verify(_report(agent), NOW).ok
    assert verifier.verify(_report(agent), NOW).reason is RejectReason.OVERLOADED
