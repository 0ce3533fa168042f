"""What a node agent is configured with, the key it signs with, and the task documents it reads.

``AgentConfig`` says how an agent reaches the control plane and what it offers;
``load_or_create_key`` keeps its Ed25519 key on disk; ``spec_of`` turns a pulled task
document into the ``TaskSpec`` that picks the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanwang.execution.load import LoadSource
from suanwang.execution.netprobe import LOOPBACK
from suanwang.execution.spool import DEFAULT_SPOOL_CAP
from suanwang.measure.probes import ProbeSettings
from suanwang.model import AcceleratorKind, Precision, TaskClass, TaskSpec
from suanwang.model.task import AcceleratorNeed
from suanwang.security import KeyPair, Role, load_private_key, save_private_key

QUICK_PROBES = ProbeSettings(matrix_size=256, repeats=2, copy_mib=16, gpu=False, warmup=False)
"""Probe sizes of an agent's start-up measurement (a fraction of a second)."""


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """How an agent reaches the control plane and what it offers.

    Attributes:
        controller_url: Base URL of the control plane.
        token: The agent principal's bearer token.
        node_id: Node the agent speaks for.
        interval_s: Seconds between heartbeats (signed metric reports).
        workers: Processes that run tasks at once.
        key_path: Where the agent's private key is kept (created when absent); None keeps
            a fresh key in memory only.
        poll_s: Pause between pulls when there is nothing to do.
        timeout_s: Timeout of one HTTP request.
        cpu_cores: Cores the node offers, which measured load is a share of; None takes the
            machine's (probed) cores.
        load_source: What load is measured: the agent's ``workers`` or the whole ``host``.
        probe_interval_s: Seconds between link probes; 0 serves no echo endpoint, probes nothing.
        echo_host: Address the echo endpoint binds and is announced at.
        ca_file: PEM file an ``https`` control plane is verified with (its CA or its own
            certificate, pinned); None trusts the system's certificate authorities.
        max_run_s: Longest the agent lets any task run (None: only the control plane's limit).
        bind_timeout_s: Longest the agent keeps trying to bind its key at start.
        work_dir: Folder of the node's object cache and sandboxed runs of tenants' code
            (``execution.coderun``); None makes a temporary one at the first such run.
        warm_per_function: Pre-started interpreters the node keeps per tenant, artefact and
            entry once it ran one (``execution.warm``); 0 starts every run cold.
        wheelhouse: A folder of wheels or an index URL artefacts' requirements are installed
            from (``execution.requirements``); empty: an artefact that declares any fails.
        spool_dir: Folder of the finished reports not yet answered (``execution.spool``);
            None keeps them beside the key file (``<key file>.spool``), or in memory without one.
        spool_cap: Most finished reports kept unsent.
    """

    controller_url: str
    token: str
    node_id: str
    interval_s: float = 1.0
    workers: int = 1
    key_path: Path | None = None
    poll_s: float = 0.1
    timeout_s: float = 10.0
    cpu_cores: float | None = None
    load_source: LoadSource = "host"
    probe_interval_s: float = 0.0
    echo_host: str = LOOPBACK
    ca_file: Path | None = None
    max_run_s: float | None = None
    bind_timeout_s: float = 120.0
    work_dir: Path | None = None
    warm_per_function: int = 0
    wheelhouse: str = ""
    spool_dir: Path | None = None
    spool_cap: int = DEFAULT_SPOOL_CAP


def load_or_create_key(path: Path | None) -> KeyPair:
    """The agent's key pair from ``path``, created there (mode 0600) when absent."""
    if path is not None and path.exists():
        return load_private_key(path, Role.AGENT)
    keys = KeyPair.generate(Role.AGENT)
    if path is not None:
        save_private_key(keys, path)
    return keys


def spec_of(document: dict[str, Any]) -> TaskSpec:
    """The ``TaskSpec`` of a task document from the API (the fields that pick the work)."""
    spec: dict[str, Any] = document["spec"]
    need = spec.get("accelerator")
    accelerator = None
    if need is not None:
        accelerator = AcceleratorNeed(
            AcceleratorKind(need["kind"]), int(need["count"]), float(need["min_mem_gib"])
        )
    return TaskSpec(
        work_gflop=float(spec["work_gflop"]),
        precision=Precision(spec["precision"]),
        cpu_cores=float(spec["cpu_cores"]),
        mem_gib=float(spec["mem_gib"]),
        accelerator=accelerator,
        task_class=TaskClass(spec["task_class"]),
        task_type=spec.get("task_type"),
        service_id=spec.get("service_id"),
        artefact=spec.get("artefact"),
        entry=spec.get("entry"),
        inputs=tuple(spec.get("inputs") or ()),
    )
