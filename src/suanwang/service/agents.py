"""Agents over restarts: durable key bindings, report marks, no-agent nodes, dispatch timeout.

``AgentRegistry`` is the control plane's memory of its agents, kept in an ``AgentKeyStore`` so
that self-healing goes on after a restart:

- a key binding is stored (with its ``agent.key`` audit entry, in one transaction) before the
  agent hears it was accepted, and every live network built later (at start, after a scenario
  load) gets the bindings of its nodes back into its key ring; the health monitor then watches
  those nodes again, silence counted from the restart;
- report marks: the newest accepted report per key goes to the store write-behind, at most
  once per ``marks_flush_s`` per key (on the writer's tick), and a restarted server refuses
  reports signed at or before a stored mark or before its own start (``ReportMarks``). What a
  crash loses is the marks of the last flush interval; the start floor covers them, since every
  report captured before the crash was signed before the restart, unless the agent's clock ran
  ahead of the server's by more than the restart took (then such a report may be accepted once,
  within its ``max_age_s``);
- no-agent nodes: with ``require_agent``, a node no bound agent speaks for is marked
  ``no-agent`` and nothing is placed on it, until an agent binds a key for it (live mode has no
  other engine to run work: tasks placed there would wait for ever);
- dispatch timeout: a task published to a node and not pulled within ``dispatch_timeout_s``
  does not hold its reservations for ever. On a node without agent, the node becomes
  ``no-agent`` and its tasks are placed again elsewhere (or fail after the controller's
  re-placement limit); on a node with an agent that did not take it, the task fails with the
  reason (its agent is alive but not pulling; the health monitor handles dead ones sooner).

Everything that touches the controller runs on the writer thread (``attach`` also before it
starts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from suanwang.control.ports import Clock
from suanwang.control.stores import (
    AgentKeyBinding,
    AgentKeyStore,
    AuditEvent,
    Principal,
    ReportMark,
    StoreError,
)
from suanwang.security.keyring import ReportMarks
from suanwang.service.live import LiveNetwork


@dataclass(frozen=True, slots=True)
class AgentPolicy:
    """How the live plane treats nodes and their agents.

    Attributes:
        require_agent: Place nothing on nodes no bound agent speaks for (``no-agent``).
        dispatch_timeout_s: A published task not pulled within this is taken back (0: never).
        max_run_s: Longest a task may run on an agent before it is stopped (None: no limit).
        max_run_s_by_tenant: Per-tenant limits that replace ``max_run_s``.
        marks_flush_s: Least time between two writes of one key's report mark.
    """

    require_agent: bool = True
    dispatch_timeout_s: float = 120.0
    max_run_s: float | None = None
    max_run_s_by_tenant: Mapping[str, float] = field(default_factory=dict)
    marks_flush_s: float = 1.0

    def run_limit_s(self, tenant: str) -> float | None:
        """The maximum run time of ``tenant``'s tasks (None: no limit)."""
        return self.max_run_s_by_tenant.get(tenant, self.max_run_s)


@dataclass(frozen=True, slots=True)
class Overdue:
    """What one dispatch-timeout sweep did.

    Attributes:
        no_agent: Nodes found without agent (now ``no-agent``), with the tasks moved off each.
        failed: Tasks failed because their node's agent did not take them.
    """

    no_agent: dict[str, int]
    failed: list[str]


class AgentRegistry:
    """Agents' bindings and marks, kept in ``store`` (see the module docstring).

    Args:
        store: Durable bindings and marks.
        clock: The plane's clock.
        policy: No-agent nodes, dispatch timeout, run time limits.
    """

    def __init__(self, store: AgentKeyStore, clock: Clock, policy: AgentPolicy) -> None:
        self.store, self.clock, self.policy = store, clock, policy
        stored = {key: mark.last_ts_s for key, mark in store.marks().items()}
        self.marks = ReportMarks(stored, clock.now_s(), policy.marks_flush_s)

    def attach(self, live: LiveNetwork) -> None:
        """Give a newly built live network its nodes' bindings and the marks.

        With ``require_agent``, nodes no bound agent speaks for are marked ``no-agent``. Call
        before the writer starts, or on the writer thread.
        """
        nodes = live.scenario.topology.nodes
        verifier = live.aggregator.verifier
        with live.aggregator_lock:
            verifier.marks = self.marks
            for binding in self.store.bindings():
                if binding.node_id in nodes:
                    verifier.keyring.bind_agent(binding.public_key, binding.node_id)
            served = verifier.keyring.agent_nodes()
        if not self.policy.require_agent:
            return
        idle = frozenset(nodes) - served
        state = live.controller.state
        for index, node_id in enumerate(state.arrays.node_ids):
            if node_id in idle:
                state.mark_node(index, down=True)
        live.no_agent_nodes = idle

    @staticmethod
    def trust_key(live: LiveNetwork, node_id: str, public_key: bytes) -> None:
        """Let the live key ring accept reports signed by ``public_key`` for ``node_id``."""
        with live.aggregator_lock:
            live.aggregator.verifier.keyring.bind_agent(public_key, node_id)

    def bind(
        self, live: LiveNetwork, who: Principal, node_id: str, public_key: bytes, key_id: str
    ) -> None:
        """Store the binding and its audit entry (one transaction), then trust the key.

        Stored first: an agent told its key is bound can rely on it after a restart; a crash
        before the commit leaves nothing, and the agent binds again.
        """
        now_s = self.clock.now_s()
        audit = AuditEvent(who.id, "agent.key", f"node:{node_id}", key_id, now_s)
        self.store.bind(AgentKeyBinding(key_id, node_id, who.id, public_key, now_s), audit)
        self.trust_key(live, node_id, public_key)

    @staticmethod
    def admit(live: LiveNetwork, node_id: str) -> bool:
        """A ``no-agent`` node got an agent: return it to the pool (writer thread).

        Returns whether it was ``no-agent``. A node an operator or the health monitor took
        down, or that is quarantined, stays down.
        """
        if node_id not in live.no_agent_nodes:
            return False
        live.no_agent_nodes = live.no_agent_nodes - {node_id}
        if node_id not in live.down_nodes and node_id not in live.quarantined_nodes:
            live.controller.node_up(node_id)
        return True

    def flush_marks(self, everything: bool = False) -> int:
        """Write the marks that are due (all changed ones with ``everything``); returns how many.

        A failed write puts them back for the next flush (the database may be briefly away).
        """
        due = self.marks.due(self.clock.now_s(), everything)
        if not due:
            return 0
        try:
            self.store.save_marks([ReportMark(*mark) for mark in due])
        except StoreError:
            self.marks.put_back(due)
            raise
        return len(due)

    def sweep(self, live: LiveNetwork) -> Overdue:
        """Take back tasks not pulled within the dispatch timeout (writer thread)."""
        timeout_s = self.policy.dispatch_timeout_s
        outcome = Overdue({}, [])
        if timeout_s <= 0:
            return outcome
        overdue = live.dispatch.overdue(self.clock.now_s(), timeout_s)
        if not overdue:
            return outcome
        with live.aggregator_lock:
            served = live.aggregator.verifier.keyring.agent_nodes()
        for task_id, node_id in overdue:
            if node_id in served:
                reason = (
                    f"not picked up by the agent of {node_id} within the dispatch timeout "
                    f"of {timeout_s:g} s"
                )
                if live.dispatch.expire(task_id, reason):
                    outcome.failed.append(task_id)
            elif node_id not in outcome.no_agent:
                why = f"no agent picked up its tasks within {timeout_s:g} s"
                outcome.no_agent[node_id] = live.controller.node_down(node_id, why)
                live.no_agent_nodes = live.no_agent_nodes | {node_id}
        return outcome
