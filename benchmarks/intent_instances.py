"""The intent benchmark's instances: built-in scenarios, background loads and intents.

Each instance names a built-in scenario, one or two background kinds of work (a spec and its
mean arrivals per hour, shaped by ``twin.forecast.seasonal_rates``), an intent written as a
user would (YAML, ``scenario.intent``), the UTC hour it is planned at and the fork's horizon.
The loads were set for how busy the intent's area is (light to close to full, at the hour
chosen), from the placements' estimated run times; nothing was set from the benchmark's result.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanwang.model import AcceleratorKind, TaskSpec
from suanwang.model.task import AcceleratorNeed


@dataclass(frozen=True, slots=True)
class Load:
    """One background kind: its spec and its mean arrivals per hour (seasonal shape)."""

    spec: TaskSpec
    per_hour: float


@dataclass(frozen=True, slots=True)
class Instance:
    """A scenario, its background load, an intent and when it is planned.

    Attributes:
        name: Row label.
        scenario: Built-in scenario.
        loads: Background kinds.
        intent: The intent's YAML text.
        hour: UTC hour at which the intent is planned, on the day after the background's
            history (``bench_intent.HISTORY_H``, two days from a Monday: a Wednesday).
        horizon_s: Seconds the fork runs ahead (and the live plane is driven).
    """

    name: str
    scenario: str
    loads: tuple[Load, ...]
    intent: str
    hour: int
    horizon_s: float


def _gpu_job(region: str, site: str, gflop: float, kind: str = "bg-train") -> TaskSpec:
    gpu = AcceleratorNeed(AcceleratorKind.GPU, 1)
    return TaskSpec(
        work_gflop=gflop, cpu_cores=4, mem_gib=16, accelerator=gpu, ingress_site=site,
        residency=(region,), task_type=kind,
    )  # fmt: skip


def _cpu_job(site: str, cores: float, gflop: float, kind: str = "bg-cpu") -> TaskSpec:
    return TaskSpec(
        work_gflop=gflop, cpu_cores=cores, mem_gib=2 * cores, ingress_site=site, task_type=kind
    )


def _training(name: str, region: str, site: str, gpu_days: float, deadline_s: float) -> str:
    return (
        f"version: 1\nname: {name}\nneed: {{kind: nightly-training, gpu_days: {gpu_days}}}\n"
        f"coverage: {{regions: [{region}], sites: [{site}]}}\n"
        f"quality: {{deadline_s: {deadline_s}}}\n"
    )


def _service(name: str, kind: str, quantity: str, site: str) -> str:
    return (
        f"version: 1\nname: {name}\nneed: {{kind: {kind}, {quantity}}}\n"
        f"coverage: {{sites: [{site}]}}\nquality: {{availability: 0.999}}\n"
    )


def instances() -> list[Instance]:
    """The benchmark's instances: scenarios, loads (light to near full) and intents."""
    return [
        Instance(
            "cats-arvr, ar-vr 30 users, light",
            "cats-arvr",
            (Load(_cpu_job("user", 2, 3.0e4), 24.0),),
            _service("vr", "ar-vr", "users: 30", "user"),
            10,
            600.0,
        ),
        Instance(
            "cats-arvr, ar-vr 50 users, busy",
            "cats-arvr",
            (
                Load(_cpu_job("user", 2, 6.0e4), 48.0),
                Load(_cpu_job("user", 1, 5.0e3, "bg-s"), 30.0),
            ),
            _service("vr", "ar-vr", "users: 50", "user"),
            15,
            600.0,
        ),
        Instance(
            "metro-edge, video 200 cameras",
            "metro-edge",
            (Load(_cpu_job("term-futian", 8, 5.0e5), 12.0),),
            _service("cams", "video-analytics", "cameras: 200", "term-futian"),
            14,
            900.0,
        ),
        Instance(
            "metro-edge, inference 400 req/s",
            "metro-edge",
            (Load(_cpu_job("term-nanshan", 4, 2.0e5), 20.0),),
            _service("api", "inference-api", "requests_per_s: 400", "term-nanshan"),
            21,
            900.0,
        ),
        Instance(
            "campus, ar-vr 40 users, library",
            "campus",
            (Load(_cpu_job("users-library", 2, 2.0e5), 10.0),),
            _service("vr", "ar-vr", "users: 40", "users-library"),
            9,
            600.0,
        ),
        Instance(
            "east-west, training CN-MO 0.05 GPU-d",
            "east-west",
            (Load(_gpu_job("CN-MO", "term-mo-users", 1.0e7), 2.0),),
            _training("train", "CN-MO", "term-mo-users", 0.05, 3600),
            3,
            3600.0,
        ),
        Instance(
            "east-west, training CN-TJ 0.5 GPU-d",
            "east-west",
            (Load(_gpu_job("CN-TJ", "term-tj-users", 1.0e7), 8.0),),
            _training("train", "CN-TJ", "term-tj-users", 0.5, 7200),
            16,
            7200.0,
        ),
        Instance(
            "supercomputing, training CN-BJ 1 GPU-d",
            "supercomputing-internet",
            (Load(_gpu_job("CN-BJ", "user-tsinghua", 3.0e7), 10.0),),
            _training("train", "CN-BJ", "user-tsinghua", 1.0, 14400),
            11,
            14400.0,
        ),
        Instance(
            "east-west, ar-vr 60 users, Hong Kong",
            "east-west",
            (Load(_cpu_job("term-hk-users", 4, 1.0e6), 30.0),),
            _service("vr", "ar-vr", "users: 60", "term-hk-users"),
            20,
            600.0,
        ),
        Instance(
            "east-west, video 500 cameras, Shenzhen",
            "east-west",
            (Load(_cpu_job("term-gd-sz-users", 8, 1.0e6), 20.0),),
            _service("cams", "video-analytics", "cameras: 500", "term-gd-sz-users"),
            12,
            900.0,
        ),
    ]
