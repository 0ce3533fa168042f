"""The intent benchmark's instances: built-in scenarios, background loads and intents.

``TABLE`` holds one row per instance: the built-in scenario, the UTC hour the intent is planned
at, the fork's horizon, the intent (its need and quantity, coverage and quality, written out as
the YAML a user would write, ``scenario.intent``) and its background load: one or two kinds of
work, each a spec and its mean arrivals per hour (shaped by ``twin.forecast.seasonal_rates``).

Two shapes of instance:

* **services** (AR/VR, video analytics, inference): long-running replicas entering at one site,
  under light to busy load. The check admits one only with room for every replica now, so its
  SLA share is settled when it is placed; the background decides whether it is admitted.
* **batch with a deadline** (nightly training on GPUs in one region, CPU batch jobs on a small
  edge network): more replicas than the area has free room now, behind background work that
  holds the GPUs or cores (close to or above the area's capacity at the hour chosen). Each
  replica waits in the queue until capacity frees, competing with the background that arrives
  meanwhile; it meets its SLA only when placed within its deadline. Here the prediction can be
  wrong: the fork knows when the running work is expected to end, but it runs ahead on the
  forecast arrivals, not the ones that come, and what arrives with an earlier deadline is served
  first.

Two of the batch instances give the background deadlines of its own, shorter than the
intent's, so that the queue (earliest deadline first) serves the background arriving early in
the horizon before the intent's replicas: there the share depends on the arrivals to come.

The loads were set from the placements' estimated run times for how busy the area is at the
hour chosen (a background GPU job of ``1e7`` GFLOP runs about 1,100 s on a Macao edge GPU, 360
s in Tianjin, a ``3e7`` one 5,100 s in Beijing; a 2-core ``6e4`` GFLOP job 600 s on a
``cats-arvr`` node); nothing was set from the benchmark's result.
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
        shape: ``service`` or ``batch`` (module docstring).
    """

    name: str
    scenario: str
    loads: tuple[Load, ...]
    intent: str
    hour: int
    horizon_s: float
    shape: str


def cpu(
    site: str,
    cores: float,
    gflop: float,
    per_hour: float,
    kind: str = "bg-cpu",
    *,
    deadline_s: float | None = None,
) -> Load:
    """Background CPU jobs entering at ``site`` (each with ``deadline_s``, when given)."""
    spec = TaskSpec(
        work_gflop=gflop, cpu_cores=cores, mem_gib=2 * cores, ingress_site=site,
        task_type=kind, deadline_s=deadline_s,
    )  # fmt: skip
    return Load(spec, per_hour)


def gpu(
    region: str,
    site: str,
    gflop: float,
    per_hour: float,
    kind: str = "bg-train",
    *,
    deadline_s: float | None = None,
) -> Load:
    """Background one-GPU training jobs entering at ``site``, kept in ``region``."""
    one = AcceleratorNeed(AcceleratorKind.GPU, 1)
    spec = TaskSpec(
        work_gflop=gflop, cpu_cores=4, mem_gib=16, accelerator=one, ingress_site=site,
        residency=(region,), task_type=kind, deadline_s=deadline_s,
    )  # fmt: skip
    return Load(spec, per_hour)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of ``TABLE``: what ``Instance`` holds, with the intent as its parts."""

    name: str
    scenario: str
    hour: int
    horizon_s: float
    need: str  # the need's kind and quantity, as YAML flow mapping entries
    site: str  # the coverage site where its users (or jobs) enter
    quality: str  # the quality, as YAML flow mapping entries
    loads: tuple[Load, ...]
    region: str = ""  # a coverage region (residency), where the work must stay

    def instance(self) -> Instance:
        """The instance this row describes."""
        regions = f"regions: [{self.region}], " if self.region else ""
        intent = (
            f"version: 1\nname: bench\nneed: {{{self.need}}}\n"
            f"coverage: {{{regions}sites: [{self.site}]}}\nquality: {{{self.quality}}}\n"
        )
        shape = "batch" if "deadline_s" in self.quality else "service"
        return Instance(
            self.name, self.scenario, self.loads, intent, self.hour, self.horizon_s, shape
        )


SERVICE = "availability: 0.999"
"""The services' quality: a spare replica, the catalogue's latency target."""

TABLE: tuple[Row, ...] = (
    # Services entering at one site, light to busy.
    Row("cats-arvr, ar-vr 30 users, light", "cats-arvr", 10, 600.0,
        "kind: ar-vr, users: 30", "user", SERVICE, (cpu("user", 2, 3.0e4, 24.0),)),
    Row("cats-arvr, ar-vr 50 users, busy", "cats-arvr", 15, 600.0,
        "kind: ar-vr, users: 50", "user", SERVICE,
        (cpu("user", 2, 6.0e4, 48.0), cpu("user", 1, 5.0e3, 30.0, "bg-s"))),
    Row("metro-edge, video 200 cameras", "metro-edge", 14, 900.0,
        "kind: video-analytics, cameras: 200", "term-futian", SERVICE,
        (cpu("term-futian", 8, 5.0e5, 12.0),)),
    Row("metro-edge, inference 400 req/s", "metro-edge", 21, 900.0,
        "kind: inference-api, requests_per_s: 400", "term-nanshan", SERVICE,
        (cpu("term-nanshan", 4, 2.0e5, 20.0),)),
    Row("campus, ar-vr 40 users, library", "campus", 9, 600.0,
        "kind: ar-vr, users: 40", "users-library", SERVICE,
        (cpu("users-library", 2, 2.0e5, 10.0),)),
    Row("east-west, ar-vr 60 users, Hong Kong", "east-west", 20, 600.0,
        "kind: ar-vr, users: 60", "term-hk-users", SERVICE,
        (cpu("term-hk-users", 4, 1.0e6, 30.0),)),
    Row("east-west, video 500 cameras, Shenzhen", "east-west", 12, 900.0,
        "kind: video-analytics, cameras: 500", "term-gd-sz-users", SERVICE,
        (cpu("term-gd-sz-users", 8, 1.0e6, 20.0),)),
    # Training in one region: light, then behind GPUs held by background jobs.
    Row("east-west, training CN-MO 0.05 GPU-d", "east-west", 3, 3600.0,
        "kind: nightly-training, gpu_days: 0.05", "term-mo-users", "deadline_s: 3600",
        (gpu("CN-MO", "term-mo-users", 1.0e7, 2.0),), "CN-MO"),
    Row("east-west, training CN-TJ 0.5 GPU-d", "east-west", 16, 7200.0,
        "kind: nightly-training, gpu_days: 0.5", "term-tj-users", "deadline_s: 7200",
        (gpu("CN-TJ", "term-tj-users", 1.0e7, 8.0),), "CN-TJ"),
    Row("supercomputing, training CN-BJ 1 GPU-d", "supercomputing-internet", 11, 14400.0,
        "kind: nightly-training, gpu_days: 1.0", "user-tsinghua", "deadline_s: 14400",
        (gpu("CN-BJ", "user-tsinghua", 3.0e7, 10.0),), "CN-BJ"),
    Row("east-west, training CN-MO 0.2 GPU-d, GPUs busy", "east-west", 15, 1800.0,
        "kind: nightly-training, gpu_days: 0.2", "term-mo-users", "deadline_s: 1800",
        (gpu("CN-MO", "term-mo-users", 1.0e7, 12.0),), "CN-MO"),
    Row("east-west, training CN-TJ 1 GPU-d, overloaded", "east-west", 14, 3600.0,
        "kind: nightly-training, gpu_days: 1.0", "term-tj-users", "deadline_s: 3600",
        (gpu("CN-TJ", "term-tj-users", 5.0e7, 55.0),), "CN-TJ"),
    Row("supercomputing, training CN-BJ 2 GPU-d, queued", "supercomputing-internet", 10, 7200.0,
        "kind: nightly-training, gpu_days: 2.0", "user-tsinghua", "deadline_s: 7200",
        (gpu("CN-BJ", "user-tsinghua", 3.0e7, 20.0),), "CN-BJ"),
    # CPU batch jobs on a small edge network near full.
    Row("cats-arvr, batch 40 jobs in 10 min, busy", "cats-arvr", 14, 600.0,
        "kind: batch-analytics, jobs: 40", "user", "deadline_s: 600",
        (cpu("user", 2, 6.0e4, 54.0), cpu("user", 4, 3.0e5, 4.0, "bg-l"))),
    Row("cats-arvr, batch 24 jobs in 5 min, mixed", "cats-arvr", 19, 300.0,
        "kind: batch-analytics, jobs: 24", "user", "deadline_s: 300",
        (cpu("user", 2, 6.0e4, 40.0), cpu("user", 1, 5.0e3, 60.0, "bg-s"))),
    # Background work with deadlines of its own, shorter than the intent's: what arrives in
    # the first part of the horizon is served before the intent's replicas.
    Row("east-west, training CN-MO 0.2 GPU-d, urgent bg", "east-west", 15, 3600.0,
        "kind: nightly-training, gpu_days: 0.2", "term-mo-users", "deadline_s: 3600",
        (gpu("CN-MO", "term-mo-users", 1.0e7, 12.0, deadline_s=2400.0),), "CN-MO"),
    Row("cats-arvr, batch 24 jobs in 5 min, urgent bg", "cats-arvr", 19, 300.0,
        "kind: batch-analytics, jobs: 24", "user", "deadline_s: 300",
        (cpu("user", 2, 6.0e4, 40.0), cpu("user", 1, 5.0e3, 60.0, "bg-s", deadline_s=120.0))),
)  # fmt: skip


def instances() -> list[Instance]:
    """The benchmark's instances (``TABLE``), in its order."""
    return [row.instance() for row in TABLE]
