"""Runtime registration: sites, nodes, links and services added to the live topology, nodes retired.

The live topology is the scenario being served (the configured one, or the one last loaded,
kept by ``livefile``) with the stored topology changes (``control.changes``) applied in
version order. A registration is checked against the live topology (a clear error naming the
field and the value, nothing written), stored as the next version with its audit entry in one
transaction, and then the live network grows in place (``LiveNetwork.grow``): tasks, runs and
reservations go on, and the next scheduling cycle sees the new node or link. A node starts
``no-agent`` (when agents are required) until its agent enrols. A service (with its instances
on known nodes) joins the catalogue only. Sending a registration again with the same record
answers the stored change (nothing written), so a caller who heard no answer may retry.

Retiring a node stores a ``retire`` change, then drains it (services move make-before-break,
batch tasks finish there); once nothing runs on it the writer's tick marks it down for good.
The node's record stays in the topology, retired, for history; an operator's ``up`` does not
bring it back. A start rebuilds the same picture from the scenario and the rows.

The writer's tick also catches up with changes stored by another process on the same database,
and audits (``topology.skipped``) every stored change a build or a catch-up left out because it
no longer fits the scenario served (a scenario load that removed a registered node's site).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from suanwang.control.changes import ChangeKind, TopologyChange, TopologyChangeStore
from suanwang.control.stores import (
    AuditEvent,
    ConflictError,
    NotFoundError,
    Principal,
    StoreError,
)
from suanwang.model import Scenario
from suanwang.service.overlay import (
    Overlay,
    RegistrationError,
    check_fits,
    grown_by,
    overlay,
    record_id_of,
)

if TYPE_CHECKING:
    from suanwang.service.live import LiveNetwork
    from suanwang.service.plane import ControlPlane
    from suanwang.service.worker import Batch

log = logging.getLogger(__name__)

RETIRED_REASON = "retired"
SKIPPED_ACTION = "topology.skipped"
"""Audit action of a stored change a newly built network left out (it no longer fits)."""


class Registry:
    """The plane's runtime registrations (the plane's ``registry``; see the module docstring).

    Args:
        plane: The control plane it serves.
    """

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    @property
    def _store(self) -> TopologyChangeStore:
        store = self.plane.stores.topology
        if store is None:
            raise ConflictError("this database keeps no topology changes")
        return store

    def overlay(self, base: Scenario) -> Overlay:
        """``base`` with every stored change applied (see ``overlay``); notes are logged."""
        store = self.plane.stores.topology
        found = overlay(base, [] if store is None else store.changes())
        for note in found.notes:
            log.warning("%s", note)
        return found

    @staticmethod
    def attach(live: LiveNetwork, found: Overlay) -> None:
        """Give a newly built live network its topology version and retired nodes."""
        live.topology_version = found.version
        live.retired_nodes = found.retired
        live.skipped_changes = tuple(found.notes)
        state = live.controller.state
        for index, node_id in enumerate(state.arrays.node_ids):
            if node_id in found.retired:
                state.mark_node(index, down=True)
        live.down_nodes = live.down_nodes | found.retired

    # ----------------------------------------------------------------- writes

    def register(
        self, who: Principal, kind: ChangeKind, body: dict[str, Any]
    ) -> Future[TopologyChange]:
        """Add a site, node or link to the live topology (see the module docstring).

        The future raises ``RegistrationError`` (nothing written), ``StaleTopologyError`` or
        ``StoreUnavailableError`` (nothing written).
        """
        if kind is ChangeKind.RETIRE:
            raise ValueError("retire a node with retire()")
        store = self._store

        def run(batch: Batch) -> TopologyChange:
            live = self.plane.live
            record_id = record_id_of(kind, body)
            try:
                check_fits(live.scenario, kind, body)
            except RegistrationError as error:
                replayed = (
                    self._replayed(live, kind, record_id, body) if error.field == "id" else None
                )
                if replayed is None:
                    raise
                return replayed
            grown = grown_by(live.scenario, kind, body)
            event = AuditEvent(
                who.id,
                f"{kind.value}.register",
                f"{kind.value}:{record_id}",
                f"topology version {live.topology_version + 1}",
                self.plane.clock.now_s(),
            )
            change = store.append(kind, record_id, body, event, live.topology_version)
            self._grow(live, grown, change.version)
            return change

        return self.plane.call(run)

    def _replayed(
        self, live: LiveNetwork, kind: ChangeKind, record_id: str, body: dict[str, Any]
    ) -> TopologyChange | None:
        """The stored change a retried registration repeats (same kind, id and record), if any.

        So that a caller who heard no answer (a lost connection, a crash) can send it again;
        a retired node's record is not registered again.
        """
        if record_id in live.retired_nodes:
            return None
        same = json.dumps(body, sort_keys=True, allow_nan=False)
        for change in self._store.changes():
            if change.kind is kind and change.record_id == record_id:
                return change if json.dumps(change.body, sort_keys=True) == same else None
        return None

    def retire(self, who: Principal, node_id: str, reason: str) -> Future[int]:
        """Retire a node: stored, then drained; the future holds how many services move."""
        store = self._store

        def run(batch: Batch) -> int:
            live = self.plane.live
            if node_id not in live.scenario.topology.nodes:
                raise NotFoundError(f"node {node_id!r} does not exist")
            if node_id in live.retired_nodes:
                raise ConflictError(f"node {node_id} is retired already")
            event = AuditEvent(
                who.id,
                "node.retire",
                f"node:{node_id}",
                f"topology version {live.topology_version + 1}: {reason}",
                self.plane.clock.now_s(),
            )
            change = store.append(
                ChangeKind.RETIRE, node_id, {"reason": reason}, event, live.topology_version
            )
            live.topology_version = change.version
            return self._retire(live, node_id, reason)

        return self.plane.call(run)

    # ----------------------------------------------------------------- writer side

    def _grow(self, live: LiveNetwork, scenario: Scenario, version: int) -> None:
        if scenario.topology == live.scenario.topology:  # a service: the catalogue only
            live.serve_services(dataclasses.replace(scenario, topology=live.scenario.topology))
            live.topology_version = version
            return
        before = set(live.scenario.topology.nodes)
        live.grow(scenario)
        live.topology_version = version
        new = [n for n in scenario.topology.nodes if n not in before]
        if not new or not self.plane.agents.policy.require_agent:
            return
        with live.aggregator_lock:
            served = live.aggregator.verifier.keyring.agent_nodes()
        idle = {n for n in new if n not in served}
        state = live.controller.state
        for index, node_id in enumerate(state.arrays.node_ids):
            if node_id in idle:
                state.mark_node(index, down=True)
        live.no_agent_nodes = live.no_agent_nodes | idle

    def _retire(self, live: LiveNetwork, node_id: str, reason: str) -> int:
        live.retired_nodes = live.retired_nodes | {node_id}
        if node_id in live.down_nodes:
            return 0
        moved = live.controller.drain(node_id, f"retired: {reason}")
        live.draining_nodes = live.draining_nodes | {node_id}
        return moved

    def tick(self, batch: Batch) -> None:
        """Catch up with changes stored elsewhere; take down retired nodes that drained.

        The first tick on a newly built network (start, scenario load) also audits the
        stored changes it was built without (``topology.skipped``), so that a registration a
        new scenario dropped is on the record, not only in the log.
        """
        live, store = self.plane.live, self.plane.stores.topology
        for note in live.skipped_changes:
            now_s = self.plane.clock.now_s()
            batch.audit.append(AuditEvent("system", SKIPPED_ACTION, "topology", note, now_s))
        live.skipped_changes = ()
        try:
            if store is not None and store.version() > live.topology_version:
                self._catch_up(live, store.changes(live.topology_version))
        except StoreError:
            log.warning("topology changes not read; asked again at the next tick", exc_info=True)
        for node_id in live.retired_nodes - live.down_nodes:
            if live.controller.runs_on(node_id):
                continue
            live.controller.node_down(node_id, RETIRED_REASON)
            live.down_nodes = live.down_nodes | {node_id}
            live.draining_nodes = live.draining_nodes - {node_id}
            event = AuditEvent(
                "system", "node.retired", f"node:{node_id}", "drained", self.plane.clock.now_s()
            )
            batch.audit.append(event)

    def _catch_up(self, live: LiveNetwork, changes: list[TopologyChange]) -> None:
        for change in changes:
            if change.kind is ChangeKind.RETIRE:
                if change.record_id in live.scenario.topology.nodes:
                    self._retire(live, change.record_id, str(change.body.get("reason", "")))
                live.topology_version = change.version
                continue
            try:
                check_fits(live.scenario, change.kind, change.body)
                grown = grown_by(live.scenario, change.kind, change.body)
            except RegistrationError as error:
                note = f"topology version {change.version} skipped: {error}"
                log.warning("%s", note)
                live.skipped_changes = (*live.skipped_changes, note)  # audited next tick
                live.topology_version = change.version
                continue
            self._grow(live, grown, change.version)
