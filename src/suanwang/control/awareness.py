"""Compute awareness: the aggregator of service metric agents' reports (CATS C-SMA side).

The ``Aggregator`` ingests signed metric reports, verifies them, filters them through the CATS
update policy and keeps the latest applied values of every node in numpy arrays, with the time
each node was last heard from. ``snapshot()`` turns those arrays into an immutable ``Snapshot``
for one scheduling cycle, scoring every node under the one ``MetricConfig`` and penalising, then
excluding, nodes that went silent (``StalenessPolicy``). No per-node Python loop runs in
``snapshot()``; ingestion is per report by nature.

Ages count from when a verified report *arrived* on our clock, not from the timestamp the agent
signed (that one only has to fall inside the verifier's window), so an agent's clock skew cannot
make a node look fresher than it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from suanwang.control.ports import Clock
from suanwang.measure import (
    DEFAULT_CONFIG,
    REPORT_METRICS,
    MetricConfig,
    Snapshot,
    StalenessPolicy,
    UpdateDecision,
    UpdatePolicy,
    l1_scores,
    l2_scores,
)
from suanwang.model import Topology
from suanwang.security import (
    MetricReport,
    RejectReason,
    SignatureChecker,
    SignedEnvelope,
    Verdict,
    Verifier,
)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What became of one envelope: its verdict and, when accepted, the policy's decision."""

    verdict: Verdict
    decision: UpdateDecision | None = None


@dataclass(frozen=True, slots=True)
class IngestSummary:
    """Counts over a batch of envelopes."""

    received: int
    decisions: Mapping[UpdateDecision, int] = field(default_factory=dict)
    rejected: Mapping[RejectReason, int] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        """Envelopes that passed verification (whatever the policy then decided)."""
        return self.received - sum(self.rejected.values())


class Aggregator:
    """Latest verified metrics of every node, and snapshots of them.

    Args:
        node_ids: Nodes in array order (the topology's order, so snapshots line up with
            ``TopologyArrays``).
        verifier: Verifies envelopes (key ring, nonces, timestamp window).
        clock: Time source for ages and the update policy.
        policy: CATS update policy applied to every accepted report.
        staleness: How silence is penalised, then excluded.
        config: Scoring configuration (the one every component uses).
        cpu_capacity_cores: Cores of each node (0 where unknown).
        mem_capacity_gib: Memory of each node (0 where unknown).
        metric_types: L0 metric types kept per node; others in a report are ignored.
    """

    def __init__(
        self,
        node_ids: Sequence[str],
        verifier: Verifier,
        clock: Clock,
        *,
        policy: UpdatePolicy | None = None,
        staleness: StalenessPolicy | None = None,
        config: MetricConfig = DEFAULT_CONFIG,
        cpu_capacity_cores: npt.ArrayLike | None = None,
        mem_capacity_gib: npt.ArrayLike | None = None,
        metric_types: Sequence[str] = REPORT_METRICS,
    ) -> None:
        self.verifier, self.clock, self.config = verifier, clock, config
        self.policy = policy or UpdatePolicy()
        self.staleness = staleness or StalenessPolicy()
        self.node_ids = tuple(node_ids)
        self.index = {node_id: i for i, node_id in enumerate(self.node_ids)}
        if len(self.index) != len(self.node_ids):
            raise ValueError("node ids repeat")
        self._index_view = MappingProxyType(self.index)
        self.metric_types = tuple(metric_types)
        self._column = {name: j for j, name in enumerate(self.metric_types)}
        n, m = len(self.node_ids), len(self.metric_types)
        self._cpu_capacity = _column_or_zeros(cpu_capacity_cores, n)
        self._mem_capacity = _column_or_zeros(mem_capacity_gib, n)
        self._values = np.full((n, m), np.nan)
        self._pending = np.full((n, m), np.nan)
        self._has_pending = np.zeros(n, dtype=np.bool_)
        self._applied_s = np.full(n, np.nan)
        self._seen_s = np.full(n, -np.inf)

    @classmethod
    def from_topology(
        cls, topology: Topology, verifier: Verifier, clock: Clock, **options: Any
    ) -> Aggregator:
        """An aggregator over the nodes of ``topology``, capacities taken from it."""
        arrays = topology.arrays
        return cls(
            arrays.node_ids,
            verifier,
            clock,
            cpu_capacity_cores=arrays.node_cpu_cores,
            mem_capacity_gib=arrays.node_mem_gib,
            **options,
        )

    def grown(self, topology: Topology) -> Aggregator:
        """An aggregator over ``topology``'s nodes that keeps what this one holds of its own.

        ``topology`` lists this aggregator's nodes first, in order, then new ones (which start
        unreported); the verifier, the policies and the latest values are carried over.

        Raises:
            ValueError: ``topology`` does not start with this aggregator's nodes.
        """
        arrays = topology.arrays
        n = len(self.node_ids)
        if tuple(arrays.node_ids[:n]) != self.node_ids:
            raise ValueError("the new topology does not extend the aggregator's nodes")
        grown = Aggregator(
            arrays.node_ids,
            self.verifier,
            self.clock,
            policy=self.policy,
            staleness=self.staleness,
            config=self.config,
            cpu_capacity_cores=arrays.node_cpu_cores,
            mem_capacity_gib=arrays.node_mem_gib,
            metric_types=self.metric_types,
        )
        for name in ("_cpu_capacity", "_mem_capacity", "_values", "_pending", "_has_pending"):
            getattr(grown, name)[:n] = getattr(self, name)
        grown._applied_s[:n] = self._applied_s
        grown._seen_s[:n] = self._seen_s
        return grown

    def register(self, envelope: SignedEnvelope | bytes) -> Verdict:
        """Verify a provider-signed registration, bind its agent key, record the node's capacity.

        A registration for a node this aggregator does not hold is refused (``node-not-bound``)
        before any key is bound.
        """
        now_s = self.clock.now_s()
        verdict = self.verifier.verify(envelope, now_s)
        registration = verdict.registration
        if registration is None:
            return (
                verdict if not verdict.ok else Verdict(RejectReason.MALFORMED, "not a registration")
            )
        i = self.index.get(registration.node_id)
        if i is None:
            detail = f"node {registration.node_id} is not in this network"
            return Verdict(RejectReason.NODE_NOT_BOUND, detail, verdict.key_id)
        self.verifier.keyring.bind_agent(registration.agent_key, registration.node_id)
        if registration.cpu_cores > 0:
            self._cpu_capacity[i] = registration.cpu_cores
        if registration.mem_gib > 0:
            self._mem_capacity[i] = registration.mem_gib
        return verdict

    def ingest(self, envelope: SignedEnvelope | bytes) -> IngestOutcome:
        """Verify one metric report and apply it under the update policy."""
        now_s = self.clock.now_s()
        verdict = self.verifier.verify(envelope, now_s)
        return self._after_verdict(verdict, now_s)

    def ingest_many(
        self, envelopes: Sequence[SignedEnvelope | bytes], checker: SignatureChecker | None = None
    ) -> IngestSummary:
        """Verify a batch (signatures through ``checker`` when given) and apply what passes."""
        now_s = self.clock.now_s()
        decisions: Counter[UpdateDecision] = Counter()
        rejected: Counter[RejectReason] = Counter()
        for verdict in self.verifier.iter_verify(envelopes, now_s, checker):
            outcome = self._after_verdict(verdict, now_s)
            if outcome.decision is not None:
                decisions[outcome.decision] += 1
            elif outcome.verdict.reason is not None:
                rejected[outcome.verdict.reason] += 1
        return IngestSummary(len(envelopes), dict(decisions), dict(rejected))

    def _after_verdict(self, verdict: Verdict, now_s: float) -> IngestOutcome:
        report = verdict.report
        if report is None:
            if verdict.ok:
                verdict = Verdict(RejectReason.MALFORMED, "not a metric report", verdict.key_id)
            return IngestOutcome(verdict)
        if report.node_id not in self.index:
            detail = f"node {report.node_id} is not in this network"
            return IngestOutcome(Verdict(RejectReason.NODE_NOT_BOUND, detail, verdict.key_id))
        return IngestOutcome(verdict, self.apply(report, now_s))

    def apply(self, report: MetricReport, now_s: float | None = None) -> UpdateDecision:
        """Apply an already trusted report (verified here, or produced by the twin).

        Raises:
            KeyError: the report names a node this aggregator does not hold.
        """
        now_s = self.clock.now_s() if now_s is None else now_s
        i = self.index[report.node_id]
        row = np.full(len(self.metric_types), np.nan)
        for name, value in report.values.items():
            j = self._column.get(name)
            if j is not None:
                row[j] = value
        self._seen_s[i] = max(self._seen_s[i], now_s)
        applied_s = self._applied_s[i]
        if self._has_pending[i] and now_s - applied_s >= self.policy.hold_down_s:
            self._set(i, self._pending[i], now_s)
            applied_s = now_s
        first = bool(np.isnan(applied_s))
        last = None if first else self._values[i]
        decision = self.policy.decide(last, None if first else float(applied_s), row, now_s)
        if decision is UpdateDecision.APPLY:
            self._set(i, row, now_s)
        elif decision is UpdateDecision.HOLD:
            self._pending[i] = row
            self._has_pending[i] = True
        else:
            self._has_pending[i] = False  # newer values supersede anything held back
        return decision

    def _set(self, i: int, row: FloatArray, now_s: float) -> None:
        self._values[i] = row
        self._applied_s[i] = now_s
        self._has_pending[i] = False

    def age_s(self, node_id: str) -> float:
        """Seconds since ``node_id`` was last heard from (``inf`` when never)."""
        return max(0.0, self.clock.now_s() - float(self._seen_s[self.index[node_id]]))

    def latest(self, node_id: str) -> dict[str, float]:
        """The node's current applied values (metrics never reported are left out)."""
        row = self._values[self.index[node_id]]
        return {
            name: float(v)
            for name, v in zip(self.metric_types, row, strict=True)
            if not np.isnan(v)
        }

    def _flush_pending(self, now_s: float) -> None:
        due = self._has_pending & (now_s - self._applied_s >= self.policy.hold_down_s)
        if due.any():
            self._values[due] = self._pending[due]
            self._applied_s[due] = now_s
            self._has_pending[due] = False

    def snapshot(self) -> Snapshot:
        """An immutable, array-backed view for one scheduling cycle (vectorised; no node loop)."""
        now_s = self.clock.now_s()
        self._flush_pending(now_s)
        age_s = np.maximum(now_s - self._seen_s, 0.0)
        factor = self.staleness.factor(age_s)
        excluded = self.staleness.excluded(age_s)
        values = self._values.copy()
        l1 = l1_scores(self.metric_types, values, self.config)
        l2 = l2_scores(l1, self.config) * factor
        free_cpu, free_mem, load = self._free(values)
        return Snapshot(
            built_at_s=now_s,
            node_ids=self.node_ids,
            index=self._index_view,
            metric_types=self.metric_types,
            metrics=values,
            cpu_capacity_cores=self._cpu_capacity.copy(),
            mem_capacity_gib=self._mem_capacity.copy(),
            cpu_free_cores=np.where(excluded, 0.0, free_cpu),
            mem_free_gib=np.where(excluded, 0.0, free_mem),
            load_ratio=np.where(excluded, 1.0, load),
            l1=l1 * factor[:, None],
            l2=l2,
            age_s=age_s,
            staleness_factor=factor,
            stale=self.staleness.stale(age_s),
            excluded=excluded,
        )

    def _free(self, values: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Free cores, free memory and load; derived from one another where one is missing."""
        nan = np.full(len(values), np.nan)
        load = values[:, self._column["load_ratio"]] if "load_ratio" in self._column else nan
        cpu = values[:, self._column["cpu_free_cores"]] if "cpu_free_cores" in self._column else nan
        mem = values[:, self._column["mem_free_gib"]] if "mem_free_gib" in self._column else nan
        known_load = np.where(np.isnan(load), 1.0, np.clip(load, 0.0, 1.0))
        cpu = np.where(np.isnan(cpu), self._cpu_capacity * (1.0 - known_load), cpu)
        mem = np.nan_to_num(mem, nan=0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            derived = 1.0 - cpu / self._cpu_capacity
        load = np.where(np.isnan(load), np.where(self._cpu_capacity > 0, derived, 1.0), load)
        return cpu, mem, np.clip(load, 0.0, 1.0)


def _column_or_zeros(values: npt.ArrayLike | None, n: int) -> FloatArray:
    if values is None:
        return np.zeros(n)
    array = np.array(values, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(f"capacity array has shape {array.shape}, not ({n},)")
    return array
