"""Profiles side by side: one seeded workload run under each profile, and sweeps over seeds.

``compare_profiles`` runs the same scenario, seed and settings once per profile in this process.
The arrivals depend only on the seed (each stream draws from its own generator), so every
profile faces the very same requests; the comparison checks that by their count.
``comparison_rows`` flattens the results into one row per profile and ``write_comparison``
writes them with a plot and each run's own report.

``sweep`` runs every (profile, seed) pair as a Ray task, on a local Ray instance it starts or on
a cluster it connects to; ``sweep_table`` gives the mean and range across seeds per profile.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from suanwang.model import Scenario
from suanwang.scenario import resolve_scenario
from suanwang.scheduling import resolve_profile
from suanwang.twin.errors import TwinError
from suanwang.twin.metrics import Histogram
from suanwang.twin.report import (
    SLA_TARGET,
    new_figure,
    save_figure,
    write_csv,
    write_json,
    write_report,
)
from suanwang.twin.run import TwinConfig, TwinResult, run_twin
from suanwang.twin.summary import summarise

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CompareProgress = Callable[[str, float, int], None]
"""Called with (profile, simulated seconds done in its run, tasks generated so far)."""

SweepProgress = Callable[[int, int], None]
"""Called with (runs done, runs in all)."""

CLASSES = ("hot", "warm", "cold")

_SWEEP_OBJECT_STORE_BYTES = 128 * 1024**2
"""Object store of a local sweep instance: runs return small summaries, so Ray's default (30 %
of memory) would only take shared memory away from the machine."""


def compare_profiles(
    scenario: Scenario,
    profiles: Sequence[str],
    base: TwinConfig,
    progress: CompareProgress | None = None,
) -> list[TwinResult]:
    """Run ``scenario`` under each profile with ``base``'s settings (seed, duration, ...).

    Raises:
        TwinError: No profiles, an unknown profile, or a setting the twin refuses.
        RuntimeError: The runs did not face the same requests (a defect, not bad input).
    """
    if not profiles:
        raise TwinError("name at least one profile to compare")
    check_profiles(profiles)
    results = []
    for profile in profiles:
        config = dataclasses.replace(base, profile=profile)
        step = None if progress is None else _tagged(progress, profile)
        results.append(run_twin(scenario, config, step))
    counts = {result.config.profile: result.generated for result in results}
    if len(set(counts.values())) > 1:
        raise RuntimeError(f"the same seed generated different requests per profile: {counts}")
    return results


def check_profiles(profiles: Sequence[str]) -> None:
    """Fail on the first profile that cannot be loaded, before any run starts.

    Raises:
        TwinError: Naming the profile and what is wrong with it.
    """
    for profile in profiles:
        try:
            resolve_profile(profile)
        except (KeyError, ValueError, OSError) as error:
            raise TwinError(f"profile {profile!r}: {error}") from None


def _tagged(progress: CompareProgress, profile: str) -> Callable[[float, int], None]:
    return lambda done_s, generated: progress(profile, done_s, generated)


def overall_latency(result: TwinResult) -> Histogram:
    """Latencies of every class of a run in one histogram."""
    merged = Histogram()
    for stats in result.metrics.by_class.values():
        merged.merge(stats.total)
    return merged


def comparison_rows(results: Sequence[TwinResult]) -> list[dict[str, Any]]:
    """One flat row per run, in the order given.

    Keys: ``profile``, ``generated``, ``sla_ratio`` and ``sla_<class>`` (None where the class had
    no requests), ``p50_ms`` / ``p95_ms`` / ``p99_ms`` over all classes and ``hot_p50_ms`` ...
    for the hot class, ``rejected``, ``failed``, ``cancelled``, ``energy_kwh``, ``carbon_kg``,
    ``work_energy_kwh``, ``work_carbon_kg`` (without the idle draw), ``cost``,
    ``traffic_gb_hops``, ``replacements``, ``migrations``.
    """
    rows = []
    for result in results:
        summary = summarise(result)
        classes, tasks = summary["classes"], summary["tasks"]
        row: dict[str, Any] = {
            "profile": summary["profile"],
            "generated": tasks["generated"],
            "sla_ratio": tasks["sla_ratio"],
        }
        for name in CLASSES:
            row[f"sla_{name}"] = classes[name]["sla_ratio"] if name in classes else None
        overall = overall_latency(result).summary()
        hot = classes.get("hot", {}).get("latency_ms", {})
        hot_completed = classes.get("hot", {}).get("completed", 0)
        for q in ("p50", "p95", "p99"):
            row[f"{q}_ms"] = overall[q] if tasks["completed"] else None
        for q in ("p50", "p95", "p99"):
            row[f"hot_{q}_ms"] = hot[q] if hot_completed else None
        for key in ("rejected", "failed", "cancelled"):
            row[key] = tasks[key]
        for key in (
            "energy_kwh",
            "carbon_kg",
            "work_energy_kwh",
            "work_carbon_kg",
            "cost",
            "traffic_gb_hops",
            "replacements",
        ):
            row[key] = summary[key]
        row["migrations"] = summary["migrations"]
        rows.append(row)
    return rows


def write_comparison(results: Sequence[TwinResult], folder: Path) -> list[Path]:
    """Write ``comparison.json``, ``comparison.csv``, ``comparison.png`` and one report per run.

    Each run's report goes to ``folder/<profile>/`` (see ``write_report``); a profile given as a
    file path gets the file's stem as its folder name.

    Raises:
        TwinError: ``results`` is empty.
    """
    if not results:
        raise TwinError("no runs to compare")
    folder.mkdir(parents=True, exist_ok=True)
    rows = comparison_rows(results)
    first = results[0].config
    header = {
        "scenario": results[0].scenario,
        "seed": first.seed,
        "duration_s": first.duration_s,
        "start_hour": first.start_hour,
        "rate_scale": first.rate_scale,
    }
    written = [
        write_json(folder / "comparison.json", {**header, "rows": rows}),
        write_csv(folder / "comparison.csv", list(rows[0]), rows),
        save_figure(comparison_figure(rows, header), folder / "comparison.png"),
    ]
    for result in results:
        written += write_report(result, folder / profile_label(result.config.profile))
    return written


def profile_label(profile: str) -> str:
    """A profile's name for folders: the name of a built-in, the stem of a profile file."""
    return Path(profile).stem if profile.endswith((".yaml", ".yml")) else profile


def comparison_figure(rows: Sequence[dict[str, Any]], header: dict[str, Any]) -> Figure:
    """Grouped bars: SLA per class per profile (with the target); hot p95; carbon; cost.

    The carbon panel's bars are the work-only carbon (the idle draw, alike for every profile,
    left out), each labelled with the run's total.
    """
    figure, axes = new_figure(2, 2, (11, 7))
    names = [row["profile"] for row in rows]
    positions = range(len(names))
    sla = axes[0][0]
    classes = [c for c in CLASSES if any(row[f"sla_{c}"] is not None for row in rows)]
    width = 0.8 / max(len(classes), 1)
    for i, name in enumerate(classes):
        offset = (i - (len(classes) - 1) / 2) * width
        values = [100 * (row[f"sla_{name}"] or 0.0) for row in rows]
        sla.bar([p + offset for p in positions], values, width, label=name)
    sla.axhline(100 * SLA_TARGET, color="tab:red", linestyle="--", label="target")
    sla.set_ylim(0, 105)
    sla.set_ylabel("SLA met, % of requests")
    sla.legend(loc="lower right", fontsize="small")
    panels = (
        (axes[0][1], "hot_p95_ms", "p95 latency of hot requests, ms"),
        (axes[1][0], "work_carbon_kg", "carbon of the work, kg CO2e"),
        (axes[1][1], "cost", "cost paid by users"),
    )
    for ax, key, label in panels:
        ax.bar(positions, [row[key] or 0.0 for row in rows], 0.6, color="tab:gray")
        ax.set_ylabel(label)
    carbon = axes[1][0]
    for position, row in zip(positions, rows, strict=True):
        carbon.annotate(
            f"total {row['carbon_kg']:,.3g}",
            (position, row["work_carbon_kg"]),
            ha="center",
            va="bottom",
            fontsize="small",
        )
    for ax in (sla, *(panel[0] for panel in panels)):
        ax.set_xticks(positions, names, rotation=20, ha="right")
        ax.grid(axis="y", alpha=0.3)
    figure.suptitle(
        f"{header['scenario']} · seed {header['seed']} · {header['duration_s']:g} s from "
        f"{header['start_hour']:g} h"
    )
    return figure


# ----------------------------------------------------------------------------- sweeps


def _sweep_one(scenario: str, config: TwinConfig) -> dict[str, Any]:
    """One run of a sweep, inside a Ray worker: load the scenario there and summarise."""
    return summarise(run_twin(resolve_scenario(scenario), config))


def _absolute_if_file(profile: str) -> str:
    path = Path(profile)
    return str(path.resolve()) if path.suffix.lower() in {".yaml", ".yml"} else profile


def _scenario_reference(scenario: str | Path, base: TwinConfig) -> tuple[str, TwinConfig]:
    """What a worker needs to load the scenario: a name, or an absolute path for a file.

    Workers may run in another folder; trace files are relative to the scenario's folder unless
    ``base`` says otherwise.
    """
    path = Path(scenario)
    if path.suffix.lower() in {".yaml", ".yml", ".json"} or path.exists():
        path = path.resolve()
        if base.base_dir is None:
            base = dataclasses.replace(base, base_dir=path.parent)
        return str(path), base
    return str(scenario), base


def sweep(
    scenario: str | Path,
    profiles: Sequence[str],
    seeds: Sequence[int],
    base: TwinConfig,
    *,
    ray_address: str | None = None,
    workers: int | None = None,
    progress: SweepProgress | None = None,
) -> list[dict[str, Any]]:
    """Run every (profile, seed) pair on Ray; return their summaries, profile by profile.

    Args:
        scenario: A built-in name or a scenario file (each worker loads it itself).
        profiles: Profiles to run.
        seeds: Seeds to run each profile with.
        base: Every other setting of the runs.
        ray_address: A Ray cluster to connect to; None starts a local instance (and stops it
            afterwards) unless this process is already connected to one.
        workers: CPUs of the local instance (default: all of this machine's).
        progress: Told how many runs are done.

    Raises:
        TwinError: Ray is not installed, no profiles or seeds, an unknown profile, or a run's
            input is bad.
        ScenarioError: The scenario cannot be loaded.
    """
    if not profiles or not seeds:
        raise TwinError("a sweep needs at least one profile and one seed")
    check_profiles(profiles)
    reference, base = _scenario_reference(scenario, base)
    resolve_scenario(reference)  # bad input fails here, once, not in every worker
    try:
        # Imported by name: Ray is an optional extra (and slow to import), and type checking
        # must not depend on whether it is installed.
        ray: Any = importlib.import_module("ray")
    except ImportError:
        raise TwinError("the sweep needs Ray: pip install 'suanwang[ray]'") from None
    profiles = [_absolute_if_file(profile) for profile in profiles]
    started = not ray.is_initialized()
    if started:
        _start_ray(ray, ray_address, workers)
    try:
        remote = ray.remote(_sweep_one)
        pairs = [(profile, seed) for profile in profiles for seed in seeds]
        pending = {
            remote.remote(reference, dataclasses.replace(base, profile=profile, seed=seed)): i
            for i, (profile, seed) in enumerate(pairs)
        }
        summaries: list[dict[str, Any] | None] = [None] * len(pairs)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                summaries[pending.pop(ref)] = ray.get(ref)
            if progress is not None:
                progress(len(pairs) - len(pending), len(pairs))
    except ray.exceptions.RayTaskError as error:
        cause = getattr(error, "cause", None)
        if isinstance(cause, TwinError):  # bad input found in a worker, e.g. a bad trace row
            raise TwinError(str(cause)) from None
        raise
    finally:
        if started:
            ray.shutdown()
    return [summary for summary in summaries if summary is not None]


def _start_ray(ray: Any, address: str | None, workers: int | None) -> None:
    # One machine, loopback only: without these Ray may pick another interface and retry its
    # connection without end (DESIGN.md §8).
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    if address is not None:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        return
    ray.init(
        # "local": a fresh instance of our own, even when another Ray runs on this machine
        # (without it, ray.init joins the machine's latest cluster).
        address="local",
        num_cpus=workers,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=_SWEEP_OBJECT_STORE_BYTES,
        logging_level=logging.WARNING,
        log_to_driver=False,
    )


def sweep_table(summaries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per profile across seeds: mean, min and max of the headline figures.

    Returns:
        One row per profile, in first-seen order: ``profile``, ``runs``, ``seeds``, and for each
        of ``sla_ratio``, ``hot_p95_ms``, ``carbon_kg`` and ``cost`` a dict with ``mean``,
        ``min`` and ``max`` (``hot_p95_ms`` over the runs that completed hot requests; None
        when none did).
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for summary in summaries:
        groups.setdefault(summary["profile"], []).append(summary)
    rows = []
    for profile, runs in groups.items():
        figures = {
            "sla_ratio": [run["tasks"]["sla_ratio"] for run in runs],
            "hot_p95_ms": [
                run["classes"]["hot"]["latency_ms"]["p95"]
                for run in runs
                if run["classes"].get("hot", {}).get("completed")
            ],
            "carbon_kg": [run["carbon_kg"] for run in runs],
            "cost": [run["cost"] for run in runs],
        }
        row: dict[str, Any] = {
            "profile": profile,
            "runs": len(runs),
            "seeds": [run["seed"] for run in runs],
        }
        for key, values in figures.items():
            row[key] = (
                {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}
                if values
                else None
            )
        rows.append(row)
    return rows
