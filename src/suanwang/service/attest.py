"""Attestation: nodes earn trust by answering seeded challenges, and lose it by a wrong answer.

At join (a key bound, an agent enrolled) and then at random times (``interval_s``, jittered by
``jitter`` either way) a node's agent is handed a challenge with a fresh seed in the answer to
its next heartbeat (``measure.challenge``: a seeded matrix product). The agent answers with the
product's row checksums and the rate it measured. The ``Attestor`` recomputes ``sample_rows``
rows picked after the answer came and compares the measured rate with the node's declared fp64
peak in the topology:

- a wrong checksum (or a challenge answered with another size) is a *wrong result*;
- a rate under ``claimed x tolerance`` is an *inflated* claim;
- otherwise the attestation is *consistent*; after ``trust_after`` consistent ones in a row the
  node is ``attested``.

A wrong result or an inflated claim puts the node in quarantine with the reason: the plane
takes it down (``quarantined``), so nothing new is placed there, and no further periodic
challenge is sent. Only an admin's request for a fresh attestation (``request``) can bring it
back, by a consistent answer. Every attestation is stored with its audit entry (so it reaches
the ledger), and the state is rebuilt from the stored ones at start.
"""

from __future__ import annotations

import random
import secrets
import threading
from dataclasses import dataclass, field
from enum import StrEnum

from suanwang.control.ports import Clock
from suanwang.control.stores import AuditEvent, StoreError
from suanwang.control.trust import Attestation, TrustStore, Verdict
from suanwang.measure.challenge import check_rows

ATTEST_ACTION = "node.attest"
"""Audit action of an attestation."""

_REPLAYED = 1000
"""Most stored attestations read at start to rebuild the nodes' trust."""


@dataclass(frozen=True, slots=True)
class AttestPolicy:
    """When nodes are challenged and how answers are judged.

    Attributes:
        interval_s: Mean seconds between two attestations of a node (0: only at join).
        jitter: Each interval is drawn uniformly within ``interval_s x (1 +- jitter)``.
        size: Side of the challenge's square matrices.
        trust_after: Consistent attestations in a row that make a node ``attested``.
        tolerance: Least share of the claimed peak the measured rate must reach.
        sample_rows: Rows of the product the control plane recomputes per answer.
        answer_within_s: A challenge not answered within this is sent again, with a new seed.
    """

    interval_s: float = 600.0
    jitter: float = 0.5
    size: int = 256
    trust_after: int = 3
    tolerance: float = 0.1
    sample_rows: int = 8
    answer_within_s: float = 60.0


class Trust(StrEnum):
    """What the control plane believes of a node's declared capacity."""

    UNVERIFIED = "unverified"
    ATTESTED = "attested"
    QUARANTINED = "quarantined"


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge handed to a node's agent.

    Attributes:
        id: Challenge id (the answer names it).
        node_id: The node challenged.
        seed: Seed of both matrices.
        size: Their side.
        issued_at_s: When it was first handed out.
    """

    id: str
    node_id: str
    seed: int
    size: int
    issued_at_s: float


@dataclass(slots=True)
class NodeTrust:
    """A node's standing: trust, consistent answers in a row, the latest figures and the reason.

    Attributes:
        trust: Unverified, attested or quarantined.
        consistent: Consistent attestations since the last bad one.
        claimed_gflops: The declared peak last compared, GFLOP/s (None: never attested).
        measured_gflops: The rate last measured, GFLOP/s (None: never attested).
        reason: Why the node has its trust (the last verdict's reason).
        due_s: When its next challenge is due (None: none is, until an admin asks).
        pending: The challenge handed out and not answered yet.
    """

    trust: Trust = Trust.UNVERIFIED
    consistent: int = 0
    claimed_gflops: float | None = None
    measured_gflops: float | None = None
    reason: str = ""
    due_s: float | None = None
    pending: Challenge | None = field(default=None)


class Attestor:
    """Challenges and verdicts per node (see the module docstring); thread-safe.

    Args:
        store: Where attestations go with their audit entries; None keeps them in memory only.
        clock: The plane's clock.
        policy: Timing and tolerances.
    """

    def __init__(self, store: TrustStore | None, clock: Clock, policy: AttestPolicy) -> None:
        self.store, self.clock, self.policy = store, clock, policy
        self._lock = threading.Lock()
        self._nodes: dict[str, NodeTrust] = {}
        self._random = random.Random(secrets.randbits(64))
        if store is not None:
            for attestation in reversed(store.attestations(limit=_REPLAYED)):
                self._judge(self._node(attestation.node_id), attestation)

    def _node(self, node_id: str) -> NodeTrust:
        return self._nodes.setdefault(node_id, NodeTrust())

    def _next_due(self, now_s: float) -> float | None:
        policy = self.policy
        if policy.interval_s <= 0:
            return None
        spread = self._random.uniform(1.0 - policy.jitter, 1.0 + policy.jitter)
        return now_s + policy.interval_s * max(spread, 0.0)

    def join(self, node_id: str) -> None:
        """A node's agent joined: challenge it at its next heartbeat (not when quarantined)."""
        with self._lock:
            node = self._node(node_id)
            if node.trust is not Trust.QUARANTINED:
                node.due_s = self.clock.now_s()

    def request(self, node_id: str) -> None:
        """An admin asks for a fresh attestation, quarantined or not."""
        with self._lock:
            self._node(node_id).due_s = self.clock.now_s()

    def challenge(self, node_id: str) -> Challenge | None:
        """The challenge to hand the node's agent now, if one is due or still unanswered."""
        now_s = self.clock.now_s()
        with self._lock:
            node = self._nodes.get(node_id)
            if node is None:
                return None
            pending = node.pending
            if pending is not None and now_s - pending.issued_at_s < self.policy.answer_within_s:
                return pending
            if node.due_s is None or now_s < node.due_s:
                return None
            node.pending = Challenge(
                secrets.token_hex(8), node_id, secrets.randbits(63), self.policy.size, now_s
            )
            return node.pending

    def check(
        self,
        node_id: str,
        challenge_id: str,
        row_checksums: list[float],
        measured_gflops: float,
        claimed_gflops: float,
    ) -> Attestation | None:
        """Judge an answer, store it with its audit entry; None when no such challenge is open.

        Raises:
            StoreUnavailableError: the attestation could not be stored (the challenge stays
                open; the agent may answer again).
        """
        with self._lock:
            node = self._nodes.get(node_id)
            pending = None if node is None else node.pending
            if node is None or pending is None or pending.id != challenge_id:
                return None
            node.pending = None  # claimed: a second answer to it is not judged
        size = pending.size
        rows = sorted(self._random.sample(range(size), min(self.policy.sample_rows, size)))
        floor = claimed_gflops * self.policy.tolerance
        if not check_rows(pending.seed, size, row_checksums, rows):
            verdict, reason = (
                Verdict.WRONG_RESULT,
                (
                    f"wrong result: the checksums of rows {rows[:4]}... of the seeded product "
                    f"({size}x{size}) do not match"
                ),
            )
        elif measured_gflops < floor:
            verdict, reason = (
                Verdict.INFLATED,
                (
                    f"inflated claim: measured {measured_gflops:.2f} GFLOP/s < claimed "
                    f"{claimed_gflops:.2f} x tolerance {self.policy.tolerance:g}"
                ),
            )
        else:
            verdict, reason = (
                Verdict.CONSISTENT,
                (
                    f"consistent: measured {measured_gflops:.2f} GFLOP/s against claimed "
                    f"{claimed_gflops:.2f}"
                ),
            )
        now_s = self.clock.now_s()
        attestation = Attestation(
            node_id, now_s, pending.seed, size, claimed_gflops, measured_gflops, verdict, reason
        )
        if self.store is not None:
            detail = f"{verdict.value}; seed {pending.seed}; {reason}"
            event = AuditEvent("system", ATTEST_ACTION, f"node:{node_id}", detail[:2000], now_s)
            try:
                self.store.add_attestation(attestation, event)
            except StoreError:
                with self._lock:
                    node.pending = node.pending or pending  # open again for another answer
                raise
        with self._lock:
            self._judge(node, attestation)
            node.due_s = None if node.trust is Trust.QUARANTINED else self._next_due(now_s)
        return attestation

    def _judge(self, node: NodeTrust, attestation: Attestation) -> None:
        node.claimed_gflops = attestation.claimed_gflops
        node.measured_gflops = attestation.measured_gflops
        node.reason = attestation.reason
        if attestation.verdict is not Verdict.CONSISTENT:
            node.trust, node.consistent = Trust.QUARANTINED, 0
            return
        node.consistent += 1
        if node.trust is Trust.QUARANTINED:
            node.trust = Trust.UNVERIFIED
        if node.consistent >= self.policy.trust_after:
            node.trust = Trust.ATTESTED

    def view(self, node_id: str) -> NodeTrust:
        """A copy of the node's standing (unverified when never seen)."""
        with self._lock:
            node = self._nodes.get(node_id) or NodeTrust()
            return NodeTrust(
                node.trust,
                node.consistent,
                node.claimed_gflops,
                node.measured_gflops,
                node.reason,
                node.due_s,
                node.pending,
            )

    def quarantined(self) -> dict[str, str]:
        """Quarantined nodes with their reasons."""
        with self._lock:
            return {
                node_id: node.reason
                for node_id, node in self._nodes.items()
                if node.trust is Trust.QUARANTINED
            }
