"""The control plane's topology use-cases: elements down and up, drains, scenario loads.

A scenario load makes a whole scenario the live topology: built, staged on disk, committed,
then promoted. Each change runs as a command of the writer and returns a ``Future``;
``_build`` makes a live network of a scenario with the plane's registrations, bindings and
quarantines on top.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future

from suanwang.control.stores import (
    AuditEvent,
    ConflictError,
    NotFoundError,
    Principal,
    StoreUnavailableError,
)
from suanwang.model import Scenario
from suanwang.scenario import ScenarioError
from suanwang.service.live import LiveNetwork
from suanwang.service.livefile import LOAD_ACTION, LiveScenarioFile, committed_loads
from suanwang.service.plane_core import PlaneCore
from suanwang.service.worker import Batch

log = logging.getLogger(__name__)

BUILD_ERRORS = (ValueError, ArithmeticError, RecursionError, TypeError, KeyError, IndexError)
"""What building a live network from a valid-looking scenario may raise: the scenario's fault."""


class PlaneTopology(PlaneCore):
    """Topology use-cases of ``ControlPlane`` (see the module docstring)."""

    def _build(self, scenario: Scenario) -> LiveNetwork:
        found = self.registry.overlay(scenario)  # runtime registrations on top (``registry``)
        live = LiveNetwork.build(
            found.scenario,
            self._profile,
            self.clock,
            self._recorder,
            self._config,
            dispatch=self._dispatch,
        )
        self.agents.attach(live)  # bindings kept over restarts and scenario loads
        self.joining.attach(live)  # quarantines kept; agents challenged again
        self.registry.attach(live, found)
        live.controller.state.leases = self.node_leases
        return live

    def _settle_load(self) -> None:
        """After the first commit since a load ran: promote its staged file if it committed.

        Its batch's commit succeeded (then this is that commit), or failed and the writer kept
        its entries for this commit, or dropped them: the audit log says which.
        """
        assert self._staged is not None
        assert self._live_file is not None
        staged, at_s = self._staged
        try:
            committed = committed_loads(self.stores.audit, [staged.load_id], since_s=at_s - 1.0)
        except StoreUnavailableError:
            return  # asked again after the next commit; a restart settles it otherwise
        self._staged = None
        try:
            if committed:
                self._live_file.promote(staged)
            else:
                log.error("scenario load %s did not commit; its file is dropped", staged.load_id)
                self._live_file.discard(staged)
        except OSError as exc:
            # The next start settles the staged file from the audit log.
            log.error("cannot settle scenario load %s: %s", staged.load_id, exc)

    def set_node(self, who: Principal, node_id: str, up: bool, reason: str) -> Future[int]:
        """Mark a node up or down; the future holds how many tasks were re-placed."""
        return self._set_element(who, "node", node_id, up, reason)

    def set_link(self, who: Principal, link_id: str, up: bool, reason: str) -> Future[int]:
        """Mark a link up or down; the future holds how many tasks were re-placed."""
        return self._set_element(who, "link", link_id, up, reason)

    def drain_node(self, who: Principal, node_id: str, reason: str) -> Future[int]:
        """Drain a node: nothing new lands there; its long-running services move off.

        They move make-before-break; the future holds how many began to move. ``set_node``
        up ends the drain.
        """

        def run(batch: Batch) -> int:
            live = self.live
            if node_id not in live.scenario.topology.nodes:
                raise NotFoundError(f"node {node_id!r} does not exist")
            if node_id in live.down_nodes:
                raise ConflictError(f"node {node_id} is down: bring it up before draining it")
            moved = live.controller.drain(node_id, reason)
            live.draining_nodes = _marked(live.draining_nodes, node_id, down_now=True)
            self._audit(batch, who.id, "node.drain", f"node:{node_id}", reason)
            return moved

        return self._worker.call(run)

    def _set_element(
        self, who: Principal, kind: str, element_id: str, up: bool, reason: str
    ) -> Future[int]:
        def run(batch: Batch) -> int:
            live, controller = self.live, self.live.controller
            topology = live.scenario.topology
            known = topology.nodes if kind == "node" else topology.links
            if element_id not in known:
                raise NotFoundError(f"{kind} {element_id!r} does not exist")
            if kind == "node" and element_id in live.retired_nodes:
                raise ConflictError(f"node {element_id} is retired")
            moved = 0
            if kind == "node":
                if up:
                    # Only a consistent attestation lifts a quarantine (``joining``).
                    if element_id not in live.quarantined_nodes:
                        controller.node_up(element_id)
                    # An operator's up overrides no-agent (until a dispatch timeout says again).
                    live.no_agent_nodes = _marked(live.no_agent_nodes, element_id, down_now=False)
                else:
                    moved = controller.node_down(element_id, reason)
                live.down_nodes = _marked(live.down_nodes, element_id, down_now=not up)
                live.draining_nodes = _marked(live.draining_nodes, element_id, down_now=False)
            else:
                if up:
                    controller.link_up(element_id)
                else:
                    moved = controller.link_down(element_id, reason)
                live.down_links = _marked(live.down_links, element_id, down_now=not up)
            action = f"{kind}.{'up' if up else 'down'}"
            self._audit(batch, who.id, action, f"{kind}:{element_id}", reason)
            return moved

        return self._worker.call(run)

    def load_scenario(self, who: Principal, scenario: Scenario, cancel_active: bool) -> Future[int]:
        """Make ``scenario`` the live topology; the future holds how many tasks were cancelled.

        The new live network is built and the scenario staged on disk here, in the caller's
        thread, before anything live changes. The writer then cancels the active tasks and
        records the load; both go to the database in one commit, the commit point, and only
        after it does the staged file become the live file (``livefile``). The future raises
        ``ConflictError`` while tasks are active, unless ``cancel_active``.

        Raises:
            ScenarioError: the scenario cannot be made live (nothing changed).
            OSError: the scenario cannot be staged on disk (nothing changed).
        """
        try:
            live = self._build(scenario)
            staged = None if self._live_file is None else self._live_file.stage(scenario)
        except BUILD_ERRORS as exc:
            message = " ".join(f"cannot make the scenario live: {exc}".split())[:300]
            raise ScenarioError(message, source=scenario.name) from None

        def run(batch: Batch) -> int:
            controller = self.live.controller
            active = controller.active_ids()
            if active and not cancel_active:
                if staged is not None:
                    LiveScenarioFile.discard(staged)
                raise ConflictError(
                    f"{len(active)} tasks are active on the current topology; "
                    "load with cancel_active to cancel them"
                )
            for task_id in active:
                controller.cancel(task_id, f"the live topology was replaced by {scenario.name}")
            self.live = live
            self._worker.controller = live.controller
            detail = "" if staged is None else staged.audit_detail(len(active))
            event = AuditEvent(
                who.id, LOAD_ACTION, f"scenario:{scenario.name}", detail, self.clock.now_s()
            )
            batch.audit.append(event)  # committed with the cancellations, in one transaction
            if staged is not None:
                self._staged = (staged, event.at_s)
            return len(active)

        return self._worker.call(run)


def _marked(down: frozenset[str], element_id: str, *, down_now: bool) -> frozenset[str]:
    """``down`` with ``element_id`` added (down) or removed (up); a new set, never mutated."""
    return down | {element_id} if down_now else down - {element_id}
