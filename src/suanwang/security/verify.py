"""Verification of signed registrations and metric reports, one by one or in bulk.

Checks, in order, each refusal with its reason code:

1. the bytes are an envelope (``malformed``);
2. the key id names a trusted key of the right role — providers sign registrations, agents sign
   metric reports (``unknown-key``);
3. the timestamp is neither older than ``max_age_s`` (``expired``) nor more than ``max_skew_s``
   ahead of our clock (``future``);
4. the Ed25519 signature holds over the body bytes (``bad-signature``: tampered or wrong key);
5. the (key id, nonce) pair was not seen within the window (``replay``; ``overloaded`` when the
   nonce cache is full);
6. the payload is well-formed (``malformed``) and names a node the key may speak for
   (``node-not-bound``).

Signature checks dominate the cost (about 0.1 ms each on a small VM core) and do not release the
GIL, so ``iter_verify`` can hand them to worker processes (``checkers.ParallelChecker``) while
the cheap checks stay in the calling process.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature

from suanwang.security.checkers import InlineChecker, SignatureChecker
from suanwang.security.envelope import (
    KIND_METRICS,
    KIND_REGISTRATION,
    EnvelopeError,
    Header,
    MetricReport,
    NodeRegistration,
    SignedEnvelope,
    parse_body,
)
from suanwang.security.keyring import KeyRing, NonceCache, ReportMarks, TrustedKey


class RejectReason(StrEnum):
    """Why an envelope was refused."""

    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown-key"
    EXPIRED = "expired"
    FUTURE = "future"
    BAD_SIGNATURE = "bad-signature"
    REPLAY = "replay"
    OVERLOADED = "overloaded"
    NODE_NOT_BOUND = "node-not-bound"


class VerificationError(Exception):
    """An envelope was refused; ``reason`` says why, ``str()`` explains."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of verifying one envelope.

    Attributes:
        reason: None when accepted, else why it was refused.
        detail: Human explanation of a refusal.
        key_id: Key id the envelope named (empty when unreadable).
        report: The verified metric report, for an accepted ``metrics`` envelope.
        registration: The verified registration, for an accepted ``registration`` envelope.
    """

    reason: RejectReason | None
    detail: str = ""
    key_id: str = ""
    report: MetricReport | None = None
    registration: NodeRegistration | None = None

    @property
    def ok(self) -> bool:
        """True when accepted."""
        return self.reason is None

    def raise_for_reason(self) -> None:
        """Raise ``VerificationError`` when refused."""
        if self.reason is not None:
            raise VerificationError(self.reason, self.detail)


@dataclass(slots=True)
class _Pending:
    header: Header
    payload: Mapping[str, Any]
    key: TrustedKey
    envelope: SignedEnvelope


def _decode(pending: _Pending) -> MetricReport | NodeRegistration | Verdict:
    """The payload as a record, or a ``malformed`` verdict."""
    try:
        if pending.header.kind == KIND_METRICS:
            return MetricReport.from_payload(pending.payload, pending.header.timestamp_s)
        return NodeRegistration.from_payload(pending.payload)
    except EnvelopeError as error:
        return Verdict(RejectReason.MALFORMED, str(error), pending.header.key_id)


class Verifier:
    """Verifies envelopes against a key ring, a nonce cache and a timestamp window.

    Args:
        keyring: Trusted provider keys and bound agent keys.
        max_age_s: Oldest timestamp accepted, seconds before now.
        max_skew_s: Furthest timestamp accepted ahead of now (clocks differ a little).
    """

    def __init__(self, keyring: KeyRing, max_age_s: float = 30.0, max_skew_s: float = 5.0) -> None:
        self.keyring = keyring
        self.max_age_s, self.max_skew_s = max_age_s, max_skew_s
        self.nonces = NonceCache(keep_s=max_age_s)
        self.marks: ReportMarks | None = None  # set by a server that keeps marks over restarts

    def _prepare(self, envelope: SignedEnvelope | bytes, now_s: float) -> _Pending | Verdict:
        """Checks 1–3 (everything before the signature)."""
        try:
            if isinstance(envelope, bytes):
                envelope = SignedEnvelope.from_wire(envelope)
            header, payload = parse_body(envelope.body)
        except EnvelopeError as error:
            return Verdict(RejectReason.MALFORMED, str(error))
        kid = header.key_id
        if header.kind == KIND_METRICS:
            key = self.keyring.agent(kid)
        elif header.kind == KIND_REGISTRATION:
            key = self.keyring.provider(kid)
        else:
            return Verdict(RejectReason.MALFORMED, f"unknown envelope kind {header.kind!r}", kid)
        if key is None:
            return Verdict(RejectReason.UNKNOWN_KEY, f"no trusted {header.kind} key {kid}", kid)
        age_s = now_s - header.timestamp_s
        if age_s > self.max_age_s:
            return Verdict(RejectReason.EXPIRED, f"signed {age_s:.1f} s ago", kid)
        if -age_s > self.max_skew_s:
            return Verdict(RejectReason.FUTURE, f"signed {-age_s:.1f} s in the future", kid)
        return _Pending(header, payload, key, envelope)

    def _finish(self, pending: _Pending, signature_ok: bool, now_s: float) -> Verdict:
        """Checks 4–6, given the outcome of the signature check."""
        header, key = pending.header, pending.key
        kid = header.key_id
        if not signature_ok:
            return Verdict(RejectReason.BAD_SIGNATURE, "signature does not match the body", kid)
        if len(self.nonces) >= self.nonces.max_entries and self.nonces.full(now_s):
            return Verdict(RejectReason.OVERLOADED, "nonce cache is full", kid)
        marks = self.marks
        stale = marks is not None and not marks.fresh(kid, header.timestamp_s)
        if stale or not self.nonces.add(kid, header.nonce, header.timestamp_s, now_s):
            seen = "signed before this server restarted" if stale else "already seen"
            return Verdict(RejectReason.REPLAY, f"nonce {header.nonce} {seen}", kid)
        decoded = _decode(pending)
        if isinstance(decoded, Verdict):
            return decoded
        node_id = decoded.node_id
        if key.nodes is not None and node_id not in key.nodes:
            return Verdict(RejectReason.NODE_NOT_BOUND, f"key {kid} is not bound to {node_id}", kid)
        report = decoded if isinstance(decoded, MetricReport) else None
        registration = decoded if isinstance(decoded, NodeRegistration) else None
        if marks is not None:
            marks.accepted(kid, header.timestamp_s, header.nonce)
        return Verdict(None, key_id=kid, report=report, registration=registration)

    def verify(self, envelope: SignedEnvelope | bytes, now_s: float) -> Verdict:
        """Verify one envelope (never raises; see ``Verdict.raise_for_reason``)."""
        pending = self._prepare(envelope, now_s)
        if isinstance(pending, Verdict):
            return pending
        try:
            pending.key.public_key.verify(pending.envelope.signature, pending.envelope.body)
            signature_ok = True
        except InvalidSignature:
            signature_ok = False
        return self._finish(pending, signature_ok, now_s)

    def iter_verify(
        self,
        envelopes: Iterable[SignedEnvelope | bytes],
        now_s: float,
        checker: SignatureChecker | None = None,
        chunk: int = 256,
    ) -> Iterator[Verdict]:
        """Verify many envelopes, yielding the verdicts of ``verify`` one by one, in order.

        Envelopes are prepared in chunks; each chunk's signatures go to ``checker`` while the
        next chunks are prepared and earlier ones finished, so worker processes and this one
        overlap. Replays inside the batch are caught as they would be one by one.

        Args:
            envelopes: Envelopes or wire bytes.
            now_s: Time of the check.
            checker: Where signatures are checked (``ParallelChecker`` for worker processes);
                in this process when None.
            chunk: Envelopes per chunk.
        """
        checker = checker or InlineChecker()
        in_flight: deque[tuple[list[_Pending | Verdict], Future[list[bool]]]] = deque()
        iterator = iter(envelopes)
        while True:
            prepared = [self._prepare(e, now_s) for e in itertools.islice(iterator, chunk)]
            if prepared:
                items = [
                    (p.key.raw, p.envelope.body, p.envelope.signature)
                    for p in prepared
                    if isinstance(p, _Pending)
                ]
                in_flight.append((prepared, checker.submit(items)))
            while in_flight and (not prepared or len(in_flight) > checker.concurrency):
                done, future = in_flight.popleft()
                outcomes = iter(future.result())
                for p in done:
                    yield p if isinstance(p, Verdict) else self._finish(p, next(outcomes), now_s)
            if not prepared:
                return

    def verify_many(
        self,
        envelopes: Iterable[SignedEnvelope | bytes],
        now_s: float,
        checker: SignatureChecker | None = None,
    ) -> list[Verdict]:
        """All verdicts of ``iter_verify`` as a list."""
        return list(self.iter_verify(envelopes, now_s, checker))

    def register(self, envelope: SignedEnvelope | bytes, now_s: float) -> Verdict:
        """Verify a provider-signed registration and bind its agent key to its node."""
        verdict = self.verify(envelope, now_s)
        if verdict.ok and verdict.registration is None:
            return Verdict(RejectReason.MALFORMED, "not a registration", verdict.key_id)
        if verdict.registration is not None:
            self.keyring.bind_agent(verdict.registration.agent_key, verdict.registration.node_id)
        return verdict
