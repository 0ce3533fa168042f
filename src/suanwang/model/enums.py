"""Closed vocabularies of the domain model.

Every enum is a ``StrEnum`` so that its members read and write as their plain value in scenario
files, JSON and databases (``Tier.EDGE == "edge"``).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Tier(StrEnum):
    """Where a site sits between the user and the national hubs.

    Typical round-trip latency to a user (DESIGN.md §9): ``onsite`` 1–5 ms, ``edge`` 5–20 ms,
    ``region`` 20–40 ms, ``hub`` beyond that. ``terminal`` is a user-side access point that holds
    no shared compute (phones, vehicles, cameras attach here).
    """

    HUB = "hub"
    REGION = "region"
    EDGE = "edge"
    ONSITE = "onsite"
    TERMINAL = "terminal"

    @property
    def rank(self) -> int:
        """Distance from the user: 0 for ``terminal`` up to 4 for ``hub`` (for sorting, arrays)."""
        return _TIER_RANK[self]


_TIER_RANK = {Tier.TERMINAL: 0, Tier.ONSITE: 1, Tier.EDGE: 2, Tier.REGION: 3, Tier.HUB: 4}


class Architecture(StrEnum):
    """Instruction-set architecture of a node's CPUs."""

    X86 = "x86"
    ARM = "arm"
    RISCV = "riscv"


class AcceleratorKind(StrEnum):
    """Kinds of accelerator a node may carry."""

    GPU = "gpu"
    NPU = "npu"
    FPGA = "fpga"
    DPU = "dpu"


class Precision(StrEnum):
    """Numeric precision of a workload and of a peak rate.

    Rates at ``int8`` are integer operations per second; suanwang stores every rate in
    ``gflops`` fields regardless, reading "GFLOPS" as "10^9 operations per second at this
    precision".
    """

    FP64 = "fp64"
    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"


class TaskClass(StrEnum):
    """Latency class of a task.

    ``hot`` work is latency-critical and stays near the user; ``warm`` work prefers its home
    region; ``cold`` work (training, rendering, storage) may go west to cheaper, greener hubs.
    """

    HOT = "hot"
    WARM = "warm"
    COLD = "cold"


class ElementKind(StrEnum):
    """Kinds of network-only element (they forward traffic; some also compute)."""

    ROUTER = "router"
    SWITCH = "switch"
    GATEWAY = "gateway"


class TrustLevel(IntEnum):
    """How far a node's operator is trusted; a task asks for a minimum level.

    0 ``untrusted`` (anonymous third-party compute), 1 ``basic`` (registered provider),
    2 ``verified`` (audited provider), 3 ``sovereign`` (the operator's own, certified sites).
    """

    UNTRUSTED = 0
    BASIC = 1
    VERIFIED = 2
    SOVEREIGN = 3
