"""A twin result as JSON-ready figures (the ``summary.json`` of a run's output folder)."""

from __future__ import annotations

from typing import Any

from suanwang import __version__
from suanwang.model import Tier
from suanwang.twin.run import TwinResult


def summarise(result: TwinResult) -> dict[str, Any]:
    """Every figure of a run, in plain JSON types.

    Keys: ``scenario``, ``profile``, ``seed``, ``duration_s``, ``end_s``, ``wall_s``, ``events``,
    ``tasks`` (generated, completed, rejected, failed, cancelled, sla_met, sla_ratio),
    ``classes`` and ``types`` (per class / task type: counts, SLA ratio, latency and its
    network / queueing / compute split as mean, p50, p95, p99, max in ms), ``causes``
    (rejections and failures by cause, each with an example reason), ``utilisation`` (per tier:
    cpu and accelerator shares held over the run), ``energy_kwh``, ``carbon_kg`` (the fleet's, idle
    draw included), ``work_energy_kwh``, ``work_carbon_kg`` (what task runs add), ``cost``,
    ``energy_cost``, ``traffic_gb_hops``, ``replacements``, ``migrations``, ``failures``,
    ``tasks_per_wall_s``, ``peak_memory_mb`` and ``version``.
    """
    metrics, config = result.metrics, result.config
    classes = {str(c): s.summary() for c, s in metrics.by_class.items() if s.generated}
    totals = {
        key: sum(s.summary()[key] for s in metrics.by_class.values())
        for key in ("generated", "completed", "sla_met", "rejected", "failed", "cancelled")
    }
    totals["sla_ratio"] = totals["sla_met"] / totals["generated"] if totals["generated"] else 0.0
    horizon_s = max(result.end_s, 1e-9)
    utilisation = {
        tier: {
            "cpu": metrics.busy_core_s.get(_tier(tier), 0.0) / (cores * horizon_s)
            if cores
            else 0.0,
            "accelerator": (
                metrics.busy_device_s.get(_tier(tier), 0.0) / (devices * horizon_s)
                if (devices := result.tier_devices.get(tier, 0.0))
                else 0.0
            ),
        }
        for tier, cores in result.tier_cores.items()
    }
    return {
        "version": __version__,
        "scenario": result.scenario,
        "profile": config.profile,
        "seed": config.seed,
        "duration_s": config.duration_s,
        "start_hour": config.start_hour,
        "end_s": result.end_s,
        "wall_s": result.wall_s,
        "events": result.events,
        "tasks_per_wall_s": totals["generated"] / result.wall_s if result.wall_s else 0.0,
        "peak_memory_mb": result.peak_memory_mb,
        "tasks": totals,
        "classes": classes,
        "types": {name: s.summary() for name, s in sorted(metrics.by_type.items())},
        "causes": {
            cause: {"count": count, "example": metrics.examples.get(cause, "")}
            for cause, count in metrics.causes.most_common()
        },
        "utilisation": utilisation,
        "energy_kwh": metrics.energy_kwh,
        "carbon_kg": metrics.carbon_kg,
        "work_energy_kwh": metrics.work_energy_kwh,
        "work_carbon_kg": metrics.work_carbon_kg,
        "cost": metrics.cost,
        "energy_cost": metrics.energy_cost,
        "traffic_gb_hops": metrics.traffic_gb_hops,
        "replacements": metrics.replacements,
        "migrations": metrics.migrations,
        "failures": {"nodes": metrics.node_failures, "links": metrics.link_failures},
    }


def _tier(name: str) -> Tier:
    return Tier(name)
