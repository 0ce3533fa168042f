"""Translation: an intent becomes task specs, a profile and constraints, by the catalogue's rules.

Every derived figure is a ``Derivation``: the field, its value and the rule that produced it
(``suanwang intent apply --dry-run`` prints them as a table). The rules are data
(``catalogue.yaml``); this module only applies them:

* replicas: ``ceil(quantity / units_per_replica)``, or for ``over_deadline`` needs the GPUs that
  finish ``quantity`` GPU-days by the deadline, ``ceil(quantity x 86400 / deadline_s)``;
  plus the spares of the highest availability rule the target reaches;
* each replica's demand: the catalogue's figures, ``per_unit`` ones times the units it serves;
* the latency target (at its percentile) becomes each request's latency budget: the estimate the
  scheduler checks is a request's whole time, so a budget met by every placement is met at any
  percentile; the deadline likewise;
* the budget is shared equally: each task's price cap is the budget over the replicas;
* coverage regions become every task's residency; coverage sites are where users enter,
  replicas spread over them in turn;
* the carbon preference picks the profile the prediction uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from suanwang.model import AcceleratorKind, TaskSpec
from suanwang.model.task import AcceleratorNeed
from suanwang.scenario.intent.catalogue import Catalogue, Entry, PerUnit, default_catalogue
from suanwang.scenario.intent.schema import IntentDoc

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Derivation:
    """One derived figure: what, its value, and the rule that made it."""

    field: str
    value: str
    rule: str


@dataclass(frozen=True, slots=True)
class Translation:
    """What an intent asks of the network.

    Attributes:
        intent: The intent as written.
        specs: One task spec per replica.
        needed: Replicas its load needs (the others are spares).
        profile: Scheduling profile for its prediction (by carbon preference).
        latency_target_ms: Each request's latency target (None: no latency target).
        deadline_s: Deadline of batch work (None: none).
        availability: Share of the window its replicas must be serving.
        budget: Most the sum of its tasks' prices may be (None: no budget).
        derivations: Every derived figure with its rule.
    """

    intent: IntentDoc
    specs: tuple[TaskSpec, ...]
    needed: int
    profile: str
    latency_target_ms: float | None
    deadline_s: float | None
    availability: float
    budget: float | None
    derivations: tuple[Derivation, ...]


def _figure(value: float | PerUnit, units: float) -> tuple[float, str]:
    if isinstance(value, PerUnit):
        return value.per_unit * units, f"{value.per_unit:g} per unit x {units:g} units"
    return float(value), "fixed per replica"


def _replicas(entry: Entry, quantity: float, deadline_s: float | None) -> tuple[int, str]:
    if entry.replicas == "over_deadline":
        assert deadline_s is not None  # translate refuses such a need without one
        count = math.ceil(quantity * SECONDS_PER_DAY / deadline_s - 1e-9)
        rule = f"ceil({quantity:g} {entry.quantity} x 86400 s / deadline {deadline_s:g} s)"
        return max(count, 1), rule
    count = math.ceil(quantity / entry.units_per_replica - 1e-9)
    rule = f"ceil({quantity:g} {entry.quantity} / {entry.units_per_replica:g} per replica)"
    return max(count, 1), rule


def _demand_rows(
    entry: Entry, kind: str, units: float, note: Callable[[str, object, str], None]
) -> tuple[float, float]:
    """Note each replica's demand; returns its work (GFLOP) and input (MB)."""
    demand = entry.replica
    work, work_rule = _figure(demand.work_gflop, units)
    note("work_gflop per replica", work, f"{work_rule} (catalogue {kind}.replica.work_gflop)")
    data_in, data_rule = _figure(demand.data_in_mb, units)
    note("data_in_mb per replica", data_in, f"{data_rule} (catalogue {kind}.replica.data_in_mb)")
    note("cpu_cores per replica", demand.cpu_cores, f"catalogue {kind}.replica.cpu_cores")
    note("mem_gib per replica", demand.mem_gib, f"catalogue {kind}.replica.mem_gib")
    if demand.gpus:
        note("gpus per replica", demand.gpus, f"catalogue {kind}.replica.gpus")
    note("task_class", demand.task_class.value, f"catalogue {kind}.replica.task_class")
    return work, data_in


def translate(intent: IntentDoc, catalogue: Catalogue | None = None) -> Translation:
    """Apply the catalogue's rules to ``intent`` (see the module docstring).

    Raises:
        ValueError: a deadline-sized need has no deadline, or a derived figure breaks a task
            spec's invariant (the message names the field).
    """
    catalogue = catalogue or default_catalogue()
    kind = intent.need.kind
    entry = catalogue.entry(kind)
    quantity = intent.quantity(catalogue)
    quality = intent.quality
    rows: list[Derivation] = []

    def note(field: str, value: object, rule: str) -> None:
        rows.append(Derivation(field, value if isinstance(value, str) else f"{value:g}", rule))

    deadline_s = quality.deadline_s or entry.deadline_s
    if entry.replicas == "over_deadline" and deadline_s is None:
        raise ValueError(f"quality.deadline_s: {kind} is sized by its deadline; give one")
    if deadline_s is not None:
        source = "quality.deadline_s" if quality.deadline_s else f"catalogue {kind}.deadline_s"
        note("deadline_s", deadline_s, source)
    needed, rule = _replicas(entry, quantity, deadline_s)
    note("replicas for the load", needed, f"{rule} (catalogue {kind}.replicas)")
    spare = catalogue.spares_for(quality.availability)
    spares = 0 if spare is None else spare.spares
    if spare is not None:
        rule = f"availability {quality.availability:g} >= {spare.availability_at_least:g}"
        note("spare replicas", spares, f"{rule} (catalogue spares)")
    replicas = needed + spares
    note("replicas", replicas, "replicas for the load + spare replicas")
    units = quantity / needed
    note(f"{entry.quantity} per replica", units, f"{quantity:g} / {needed} replicas for the load")

    work, data_in = _demand_rows(entry, kind, units, note)
    demand = entry.replica

    latency_ms = quality.latency_ms or entry.latency_ms
    if latency_ms is not None:
        source = (
            f"quality.latency_ms at p{quality.percentile:g}"
            if quality.latency_ms
            else f"catalogue {kind}.latency_ms"
        )
        note("latency_budget_ms per request", latency_ms, f"{source}: a request's whole time")
    per_task_budget = None if intent.budget is None else intent.budget / replicas
    if per_task_budget is not None:
        note("budget per task", per_task_budget, f"budget {intent.budget:g} / {replicas} replicas")
    regions = tuple(intent.coverage.regions)
    if regions:
        note("residency", ", ".join(regions), "coverage.regions")
    sites = intent.coverage.sites
    if sites:
        note("ingress sites", ", ".join(sites), "coverage.sites, replicas spread in turn")
    profile = catalogue.carbon_profiles[intent.carbon]
    note("profile", profile, f"carbon {intent.carbon} (catalogue carbon_profiles)")

    accelerator = None if not demand.gpus else AcceleratorNeed(AcceleratorKind.GPU, demand.gpus)
    specs = tuple(
        TaskSpec(
            work_gflop=work,
            cpu_cores=demand.cpu_cores,
            mem_gib=demand.mem_gib,
            accelerator=accelerator,
            data_in_mb=data_in,
            ingress_site=sites[i % len(sites)] if sites else None,
            latency_budget_ms=latency_ms,
            deadline_s=deadline_s if not demand.long_running else None,
            task_class=demand.task_class,
            budget=per_task_budget,
            residency=regions,
            task_type=kind,
            long_running=demand.long_running,
        )
        for i in range(replicas)
    )
    return Translation(
        intent,
        specs,
        needed,
        profile,
        latency_ms,
        deadline_s,
        quality.availability,
        intent.budget,
        tuple(rows),
    )
