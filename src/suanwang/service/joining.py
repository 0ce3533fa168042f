"""A provider's machine joins: enrolment with a one-time token, then attestation and quarantine.

``Joining`` holds the use-cases the API calls for it:

- ``enrol``: the agent sends the enrolment token, its node and its fresh public key; the trust
  store redeems the token (principal, bearer token, key binding and audit entries in one
  transaction with the consumption); the key ring then trusts the key, the health monitor
  watches the node, a ``no-agent`` node is back in the pool, and the node is challenged at its
  agent's next heartbeat. A refused token (unknown, used, expired, another node's) raises
  with its reason (the API audits it, rate-bounded);
- ``challenge`` / ``answer``: the challenge handed out with a heartbeat's answer, and the
  agent's answer, judged by the ``Attestor``. A wrong result or an inflated claim quarantines
  the node through the writer: it is taken down like a ``no-agent`` node (its tasks placed
  again, nothing new placed there) and the quarantine audited with its reason; a consistent
  answer of a quarantined node (only after an admin's ``request``) brings it back;
- ``attach``: a live network built at start or by a scenario load keeps its quarantines, and
  its agents are challenged again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from suanwang.control.stores import NotFoundError, Principal, Role, StoreUnavailableError
from suanwang.control.trust import Attestation, Enrolment, Verdict
from suanwang.model import Precision
from suanwang.security import key_id_of
from suanwang.service.attest import Challenge

if TYPE_CHECKING:
    from suanwang.service.live import LiveNetwork
    from suanwang.service.plane import ControlPlane
    from suanwang.service.worker import Batch

SYSTEM = Principal("system", "system", frozenset({Role.ADMIN}))
"""Who quarantines are recorded as."""

_COMMAND_TIMEOUT_S = 30.0
"""Longest a join waits for the writer."""

RAW_KEY_BYTES = 32
"""Length of a raw Ed25519 public key."""


class Joining:
    """Enrolment and attestation over one control plane (see the module docstring).

    Args:
        plane: The plane (its live network, stores, writer, agents and attestor).
    """

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def enrol(
        self, plaintext: str, node_id: str, public_key: bytes, facts: dict[str, float]
    ) -> Enrolment:
        """Redeem an enrolment token for the agent of ``node_id`` with ``public_key``.

        Raises:
            EnrolRefusedError: the token cannot be redeemed (the caller audits it).
            NotFoundError: the node does not exist.
            ValueError: the key is not a raw Ed25519 public key.
            StoreUnavailableError: no trust store, or the database cannot be reached.
        """
        plane = self.plane
        live = plane.live
        if node_id not in live.scenario.topology.nodes:
            raise NotFoundError(f"node {node_id!r} does not exist")
        if len(public_key) != RAW_KEY_BYTES:
            raise ValueError(f"a raw Ed25519 public key has {RAW_KEY_BYTES} bytes")
        store = plane.stores.trust
        if store is None:
            raise StoreUnavailableError("this control plane keeps no enrolment tokens")
        key_id = key_id_of(public_key)
        enrolled = store.redeem(plaintext, node_id, public_key, key_id, plane.clock.now_s())
        measured = ", ".join(f"{k} {v:g}" for k, v in sorted(facts.items())[:16])
        if measured:
            plane.record(enrolled.principal, "agent.measured", f"node:{node_id}", measured)
        plane.agents.trust_key(live, node_id, public_key)
        if plane.health is not None:
            plane.health.watch(node_id)
        if node_id in live.no_agent_nodes:
            admitted = plane.call(lambda _: plane.agents.admit(live, node_id))
            admitted.result(_COMMAND_TIMEOUT_S)
        plane.attestor.join(node_id)
        return enrolled

    def challenge(self, node_id: str) -> Challenge | None:
        """The challenge for the node's agent now, if any."""
        return self.plane.attestor.challenge(node_id)

    def claimed_gflops(self, node_id: str) -> float:
        """The node's declared fp64 CPU peak in the live topology, GFLOP/s."""
        node = self.plane.live.scenario.topology.nodes[node_id]
        return float(node.cpu_peak_gflops.get(Precision.FP64, 0.0))

    def answer(
        self, node_id: str, challenge_id: str, row_checksums: list[float], measured_gflops: float
    ) -> Attestation | None:
        """Judge the agent's answer; quarantine or release the node as the verdict says.

        Returns None when no such challenge is open for the node.
        """
        plane = self.plane
        attestation = plane.attestor.check(
            node_id, challenge_id, row_checksums, measured_gflops, self.claimed_gflops(node_id)
        )
        if attestation is None:
            return None
        quarantined = attestation.verdict is not Verdict.CONSISTENT
        if quarantined or node_id in plane.live.quarantined_nodes:
            plane.call(lambda batch: self._quarantine(batch, attestation)).result(
                _COMMAND_TIMEOUT_S
            )
        return attestation

    def _quarantine(self, batch: Batch, attestation: Attestation) -> None:
        """Take a node down as quarantined, or release it after a consistent answer (writer)."""
        plane, live = self.plane, self.plane.live
        node_id, reason = attestation.node_id, attestation.reason
        if attestation.verdict is Verdict.CONSISTENT:
            live.quarantined_nodes = {
                k: v for k, v in live.quarantined_nodes.items() if k != node_id
            }
            if node_id not in live.down_nodes and node_id not in live.no_agent_nodes:
                live.controller.node_up(node_id)
            plane.audit(batch, SYSTEM.id, "node.release", f"node:{node_id}", reason)
            return
        first = node_id not in live.quarantined_nodes
        live.quarantined_nodes = {**live.quarantined_nodes, node_id: reason}
        if first:
            moved = live.controller.node_down(node_id, f"quarantined: {reason}")
            detail = f"{reason}; {moved} tasks placed again"
            plane.audit(batch, SYSTEM.id, "node.quarantine", f"node:{node_id}", detail)

    def attach(self, live: LiveNetwork) -> None:
        """Prepare a newly built live network (before it serves; after its key bindings).

        Quarantined nodes are marked down; every node a bound agent speaks for is challenged
        at its next heartbeat, so attestation goes on over restarts and scenario loads.
        """
        attestor = self.plane.attestor
        with live.aggregator_lock:
            served = live.aggregator.verifier.keyring.agent_nodes()
        for node_id in served:
            attestor.join(node_id)
        quarantined = attestor.quarantined()
        state = live.controller.state
        for index, node_id in enumerate(state.arrays.node_ids):
            if node_id in quarantined:
                state.mark_node(index, down=True)
        live.quarantined_nodes = {
            node_id: reason
            for node_id, reason in quarantined.items()
            if node_id in live.scenario.topology.nodes
        }
