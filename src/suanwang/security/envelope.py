"""Signed envelopes: canonical JSON bytes, signed with Ed25519, with key id, nonce and timestamp.

The signed *body* is the canonical JSON (sorted keys, no spaces, UTF-8, no NaN) of::

    {"v": 1, "kind": "metrics" | "registration", "kid": KEY_ID, "nonce": 32 hex chars,
     "ts": SECONDS_SINCE_EPOCH, "payload": {...}}

Every number in a body is finite and within +-``MAX_ABS_NUMBER`` (NaN, infinities, ``1e400`` and
``10**400`` are refused as malformed before anything else is looked at: a NaN timestamp passes
every comparison, a huge integer cannot become a float), and the timestamp lies between the
epoch and ``MAX_TIMESTAMP_S``. The signature covers the body bytes exactly as sent, so a
verifier checks the bytes it received and never has to re-serialise anything. On the wire an
envelope is ``base64(signature) + b"." + body`` (the base64 alphabet has no dot).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from suanwang.security.keys import KeyPair

ENVELOPE_VERSION = 1
KIND_METRICS = "metrics"
KIND_REGISTRATION = "registration"
SIGNATURE_BYTES = 64
_NUMBER_TYPES = frozenset({int, float})  # exact types: a JSON true/false is no metric value
MAX_ABS_NUMBER = 1e15
"""Largest magnitude of any number in a signed body (every metric and capacity fits)."""
MAX_TIMESTAMP_S = 1e11
"""Latest timestamp a body may carry (about the year 5138), seconds since the epoch."""
_MAX_INT_DIGITS = 16  # 10**16 > MAX_ABS_NUMBER: longer literals are refused unconverted


def _number_error(text: str) -> EnvelopeError:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return EnvelopeError(f"number {shown} is not finite or out of range (|x| <= 1e15)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and abs(value) <= MAX_ABS_NUMBER):
        raise _number_error(text)
    return value


def _bounded_int(text: str) -> int:
    # Checked on the literal first, so that a 10**400 is never converted at all.
    if len(text.lstrip("-")) > _MAX_INT_DIGITS or abs(value := int(text)) > MAX_ABS_NUMBER:
        raise _number_error(text)
    return value


def _no_constant(text: str) -> float:
    raise _number_error(text)


_decode_json = json.JSONDecoder(
    parse_float=_finite_float, parse_int=_bounded_int, parse_constant=_no_constant
).decode


def is_number(value: object) -> bool:
    """Whether ``value`` is a JSON number (not a bool) that a body may carry."""
    if type(value) not in _NUMBER_TYPES:
        return False
    return math.isfinite(value) and abs(value) <= MAX_ABS_NUMBER  # type: ignore[arg-type]


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that is signed: sorted keys, compact, UTF-8.

    Raises:
        ValueError: ``value`` holds NaN or infinity (JSON has no such numbers).
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


class EnvelopeError(ValueError):
    """Bytes that are not an envelope (bad framing, bad JSON, missing or mistyped fields)."""


@dataclass(frozen=True, slots=True)
class SignedEnvelope:
    """Signed body bytes and their signature.

    Attributes:
        body: Canonical JSON bytes (see the module docstring).
        signature: Ed25519 signature of ``body`` (64 bytes).
    """

    body: bytes
    signature: bytes

    def to_wire(self) -> bytes:
        """``base64(signature) . body``."""
        return base64.b64encode(self.signature) + b"." + self.body

    @classmethod
    def from_wire(cls, data: bytes) -> SignedEnvelope:
        """Split wire bytes into body and signature (nothing is verified here).

        Raises:
            EnvelopeError: no dot, bad base64 or a signature of the wrong length.
        """
        signature_b64, dot, body = data.partition(b".")
        if not dot:
            raise EnvelopeError("envelope has no signature separator")
        try:
            signature = base64.b64decode(signature_b64, validate=True)
        except binascii.Error as error:
            raise EnvelopeError(f"bad signature encoding: {error}") from None
        if len(signature) != SIGNATURE_BYTES:
            raise EnvelopeError(f"signature has {len(signature)} bytes, not 64")
        return cls(body, signature)


@dataclass(frozen=True, slots=True)
class Header:
    """The signed fields around a payload."""

    kind: str
    key_id: str
    nonce: str
    timestamp_s: float


def parse_body(body: bytes) -> tuple[Header, Mapping[str, Any]]:
    """Header and payload of a body (nothing is verified here).

    Raises:
        EnvelopeError: not JSON, not version 1, or a field missing or of the wrong type.
    """
    try:
        data = _decode_json(body.decode("utf-8"))
        if type(data["v"]) is not int or data["v"] != ENVELOPE_VERSION:
            raise EnvelopeError(f"unsupported envelope version {data['v']!r}")
        header = Header(data["kind"], data["kid"], data["nonce"], data["ts"])
        payload = data["payload"]
    except EnvelopeError:
        raise
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise EnvelopeError(f"bad envelope body: {error}") from None
    if not (
        isinstance(header.kind, str)
        and isinstance(header.key_id, str)
        and isinstance(header.nonce, str)
        and type(header.timestamp_s) in _NUMBER_TYPES
        and isinstance(payload, dict)
    ):
        raise EnvelopeError("envelope field of the wrong type")
    if not 0 < header.timestamp_s <= MAX_TIMESTAMP_S:
        raise EnvelopeError(f"timestamp {header.timestamp_s} is out of range")
    return header, payload


def seal(
    pair: KeyPair,
    kind: str,
    payload: Mapping[str, Any],
    timestamp_s: float,
    nonce: str | None = None,
) -> SignedEnvelope:
    """Sign ``payload`` as an envelope of ``kind`` from ``pair`` at ``timestamp_s``.

    Args:
        pair: Signing key.
        kind: ``metrics`` or ``registration``.
        payload: JSON-ready mapping.
        timestamp_s: Seconds since the epoch on the signer's clock.
        nonce: 32 hex characters; a fresh random one when None (pass one only in tests).
    """
    body = canonical_json(
        {
            "v": ENVELOPE_VERSION,
            "kind": kind,
            "kid": pair.key_id,
            "nonce": nonce if nonce is not None else secrets.token_hex(16),
            "ts": timestamp_s,
            "payload": payload,
        }
    )
    return SignedEnvelope(body, pair.sign(body))


@dataclass(frozen=True, slots=True)
class MetricReport:
    """An agent's report of one node's L0 metrics.

    Attributes:
        node_id: Node the values describe.
        values: L0 values by metric type (see ``suanwang.measure.REPORT_METRICS``); metrics
            not measured are left out, never sent as NaN.
        timestamp_s: When the values were taken (the envelope's timestamp).
    """

    node_id: str
    values: Mapping[str, float]
    timestamp_s: float

    def payload(self) -> dict[str, Any]:
        """JSON-ready payload (the timestamp travels in the envelope header)."""
        return {"node_id": self.node_id, "values": dict(self.values)}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], timestamp_s: float) -> MetricReport:
        """Rebuild from a verified payload.

        Raises:
            EnvelopeError: a field missing or of the wrong type.
        """
        node_id, values = payload.get("node_id"), payload.get("values")
        if not isinstance(node_id, str) or not isinstance(values, dict):
            raise EnvelopeError("metric report needs node_id and values")
        if not all(is_number(v) for v in values.values()):
            raise EnvelopeError("metric values must be finite numbers (|x| <= 1e15)")
        return cls(node_id, values, float(timestamp_s))


@dataclass(frozen=True, slots=True)
class NodeRegistration:
    """A provider's statement that an agent key speaks for a node.

    Attributes:
        node_id: Node being registered.
        agent_key: Raw 32-byte public key of the node's agent.
        cpu_cores: Cores the node offers.
        mem_gib: Memory the node offers.
        facts: Further measured or declared L0 figures (``cpu_fp64_gflops``...).
    """

    node_id: str
    agent_key: bytes
    cpu_cores: float = 0.0
    mem_gib: float = 0.0
    facts: Mapping[str, float] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """JSON-ready payload."""
        return {
            "node_id": self.node_id,
            "agent_key": self.agent_key.hex(),
            "cpu_cores": self.cpu_cores,
            "mem_gib": self.mem_gib,
            "facts": dict(self.facts),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> NodeRegistration:
        """Rebuild from a verified payload.

        Raises:
            EnvelopeError: a field missing or of the wrong type.
        """
        node_id, facts = payload.get("node_id"), payload.get("facts") or {}
        cpu_cores, mem_gib = payload.get("cpu_cores", 0.0), payload.get("mem_gib", 0.0)
        if not isinstance(node_id, str) or not isinstance(payload.get("agent_key"), str):
            raise EnvelopeError("bad registration: node_id and agent_key must be strings")
        # Numbers only (no "12", no true), finite, and capacities not negative.
        if not (is_number(cpu_cores) and is_number(mem_gib) and min(cpu_cores, mem_gib) >= 0):
            raise EnvelopeError("bad registration: cpu_cores and mem_gib must be numbers >= 0")
        if not isinstance(facts, dict) or not all(is_number(v) for v in facts.values()):
            raise EnvelopeError("bad registration: facts must be finite numbers")
        try:
            agent_key = bytes.fromhex(payload["agent_key"])
        except ValueError as error:
            raise EnvelopeError(f"bad registration: {error}") from None
        registration = cls(
            node_id=node_id,
            agent_key=agent_key,
            cpu_cores=float(cpu_cores),
            mem_gib=float(mem_gib),
            facts={str(k): float(v) for k, v in facts.items()},
        )
        if len(agent_key) != 32:
            raise EnvelopeError("agent_key must be 32 bytes")
        return registration


def sign_report(pair: KeyPair, report: MetricReport, nonce: str | None = None) -> SignedEnvelope:
    """An agent's signed metric report."""
    return seal(pair, KIND_METRICS, report.payload(), report.timestamp_s, nonce)


def sign_registration(
    pair: KeyPair, registration: NodeRegistration, timestamp_s: float, nonce: str | None = None
) -> SignedEnvelope:
    """A provider's signed node registration."""
    return seal(pair, KIND_REGISTRATION, registration.payload(), timestamp_s, nonce)
