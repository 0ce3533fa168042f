"""Identity and integrity: Ed25519 keys, CS-ID/CSCI-ID, signed envelopes and their verification.

Depends on ``suanwang.model`` and ``cryptography`` only (DESIGN.md §3). Flow (DESIGN.md §4.1): a
provider's key is trusted by the operator; the provider signs a ``NodeRegistration`` binding an
agent key to a node; the agent signs ``MetricReport`` envelopes; the ``Verifier`` refuses
tampered, replayed, expired, unknown-key and unbound reports, each with a ``RejectReason``.
"""

from suanwang.security.checkers import (
    InlineChecker,
    ParallelChecker,
    SignatureChecker,
    SignatureItem,
    check_signatures,
)
from suanwang.security.envelope import (
    KIND_METRICS,
    KIND_REGISTRATION,
    EnvelopeError,
    Header,
    MetricReport,
    NodeRegistration,
    SignedEnvelope,
    canonical_json,
    parse_body,
    seal,
    sign_registration,
    sign_report,
)
from suanwang.security.ids import (
    instance_id,
    is_instance_id,
    is_service_id,
    random_instance_id,
    service_id,
)
from suanwang.security.keyring import KeyRing, NonceCache, TrustedKey
from suanwang.security.keys import (
    KeyPair,
    Role,
    key_id_of,
    load_private_key,
    load_public_key,
    public_key_pem,
    save_private_key,
)
from suanwang.security.verify import RejectReason, Verdict, VerificationError, Verifier

__all__ = [
    "KIND_METRICS",
    "KIND_REGISTRATION",
    "EnvelopeError",
    "Header",
    "InlineChecker",
    "KeyPair",
    "KeyRing",
    "MetricReport",
    "NodeRegistration",
    "NonceCache",
    "ParallelChecker",
    "RejectReason",
    "Role",
    "SignatureChecker",
    "SignatureItem",
    "SignedEnvelope",
    "TrustedKey",
    "Verdict",
    "VerificationError",
    "Verifier",
    "canonical_json",
    "check_signatures",
    "instance_id",
    "is_instance_id",
    "is_service_id",
    "key_id_of",
    "load_private_key",
    "load_public_key",
    "parse_body",
    "public_key_pem",
    "random_instance_id",
    "save_private_key",
    "seal",
    "service_id",
    "sign_registration",
    "sign_report",
]
