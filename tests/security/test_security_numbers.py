"""Numbers in signed bodies: finite and in range, or the envelope is malformed (never a crash).

A NaN timestamp would pass every age check and stop the nonce cache from purging; a 10**400
cannot become a float. Both, and their kin, are refused before the signature is looked at.
"""

import pytest

from suanwang.security import (
    KeyPair,
    KeyRing,
    NodeRegistration,
    RejectReason,
    Role,
    SignedEnvelope,
    Verifier,
    parse_body,
    seal,
)
from suanwang.security.envelope import EnvelopeError

NOW = 1_700_000_000.0
HUGE = "1" + "0" * 400


def _signed(pair: KeyPair, ts: str, value: str = "0.5", kind: str = "metrics") -> SignedEnvelope:
    payload = f'{{"node_id":"n1","values":{{"load_ratio":{value}}}}}'
    body = (
        f'{{"kid":"{pair.key_id}","kind":"{kind}","nonce":"{"ab" * 16}",'
        f'"payload":{payload},"ts":{ts},"v":1}}'
    ).encode()
    return SignedEnvelope(body, pair.sign(body))


@pytest.fixture
def agent_and_verifier() -> tuple[KeyPair, Verifier]:
    agent = KeyPair.generate(Role.AGENT)
    keyring = KeyRing()
    keyring.bind_agent(agent.public_bytes, "n1")
    return agent, Verifier(keyring)


@pytest.mark.parametrize(
    ("ts", "value"),
    [
        ("NaN", "0.5"),
        ("Infinity", "0.5"),
        ("-Infinity", "0.5"),
        ("1e400", "0.5"),
        (HUGE, "0.5"),
        ("true", "0.5"),
        ("0", "0.5"),
        ("1e12", "0.5"),
        (repr(NOW), "NaN"),
        (repr(NOW), "1e400"),
        (repr(NOW), HUGE),
        (repr(NOW), "-" + HUGE),
        (repr(NOW), "1e16"),
        (repr(NOW), "false"),
    ],
)
def test_non_finite_and_out_of_range_numbers_are_malformed(
    agent_and_verifier: tuple[KeyPair, Verifier], ts: str, value: str
) -> None:
    agent, verifier = agent_and_verifier
    verdict = verifier.verify(_signed(agent, ts, value), NOW)
    assert verdict.reason is RejectReason.MALFORMED, verdict
    if value != "false":  # refused at parsing: not even the nonce was remembered
        assert len(verifier.nonces) == 0


def test_a_valid_report_still_passes(agent_and_verifier: tuple[KeyPair, Verifier]) -> None:
    agent, verifier = agent_and_verifier
    assert verifier.verify(_signed(agent, repr(NOW), "3"), NOW).ok


def test_a_huge_literal_is_refused_without_converting_it() -> None:
    body = b'{"v":1,"kind":"metrics","kid":"k","nonce":"n","ts":' + b"9" * 4000 + b',"payload":{}}'
    with pytest.raises(EnvelopeError, match="out of range"):
        parse_body(body)


@pytest.mark.parametrize(
    "fields",
    [
        {"cpu_cores": "8"},
        {"cpu_cores": True},
        {"mem_gib": -1},
        {"mem_gib": 10**20},
        {"facts": {"cpu_fp64_gflops": "fast"}},
        {"facts": [1, 2]},
        {"node_id": 7},
    ],
)
def test_registrations_take_typed_finite_numbers(fields: dict[str, object]) -> None:
    provider, agent = KeyPair.generate(Role.PROVIDER), KeyPair.generate(Role.AGENT)
    keyring = KeyRing()
    keyring.trust_provider(provider.public_key, nodes=["n1"])
    payload = NodeRegistration("n1", agent.public_bytes, cpu_cores=8, mem_gib=32).payload()
    envelope = seal(provider, "registration", payload | fields, NOW)
    verdict = Verifier(keyring).register(envelope, NOW)
    assert verdict.reason is RejectReason.MALFORMED, verdict
    assert keyring.agent(agent.key_id) is None
