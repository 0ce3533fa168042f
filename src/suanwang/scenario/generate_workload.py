"""The generator's workload: the task-type catalogue, data policies, arrivals and services.

Hot, warm and cold task types sized from DESIGN.md §9; where tagged data may go; Poisson
streams entering at the terminal sites; and the CS-IDs of the hot types with instances on the
first edge boxes that suit them.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import islice

import numpy as np

from suanwang.model import (
    AcceleratorNeed,
    Arrivals,
    DataPolicy,
    InstanceId,
    Node,
    Service,
    ServiceId,
    ServiceInstance,
    TaskClass,
    TaskSpec,
    TaskType,
    Tier,
    TrustLevel,
    Workload,
)
from suanwang.scenario.generate_build import _Builder, _Layer
from suanwang.scenario.generate_catalogue import (
    _F16,
    _F32,
    _GPU,
    _NPU,
    _OWNERS,
    _PROFILE_INDEX,
    Ints,
)


def _task_types() -> tuple[TaskType, ...]:
    """The catalogue: hot, warm and cold work sized from the field figures of DESIGN.md §9."""
    hot, warm, cold = TaskClass.HOT, TaskClass.WARM, TaskClass.COLD
    verified = TrustLevel.VERIFIED
    types = (
        TaskType("ar-frame", TaskSpec(
            267.0, _F16, 1.0, 1.0, AcceleratorNeed(_GPU, 1, 1.0), 0.5, 0.25,
            latency_budget_ms=20.0, task_class=hot, min_trust_level=TrustLevel.BASIC,
            service_id="cs-ar",
        ), "AR/VR frame: a stream needs ~8 TFLOPS FP16 at 30 fps; motion-to-photon 20 ms"),
        TaskType("v2x-fusion", TaskSpec(
            264.0, _F16, 2.0, 1.0, AcceleratorNeed(_NPU, 1, 1.0), 1.0, 0.1,
            latency_budget_ms=100.0, task_class=hot, data_tags=frozenset({"vehicle"}),
            min_trust_level=verified, service_id="cs-v2x",
        ), "Road-side V2X fusion on an NPU: ~8 TFLOPS FP16 per stream, processed within 100 ms"),
        TaskType("risk-score", TaskSpec(
            1_070.0, _F16, 4.0, 4.0, AcceleratorNeed(_GPU, 1, 4.0), 0.2, 0.01,
            latency_budget_ms=200.0, task_class=warm, residency=("CN",),
            data_tags=frozenset({"personal"}), min_trust_level=verified,
        ), "Risk model: ~32 TFLOPS FP16 and 4 GB per stream (a 1/30 s share of work)"),
        TaskType("model-training", TaskSpec(
            2.88e9, _F16, 32.0, 256.0, AcceleratorNeed(_GPU, 4, 40.0), 20_000.0, 2_000.0,
            deadline_s=86_400.0, task_class=cold, budget=2_000.0, min_trust_level=verified,
        ), "Fine-tuning on 4 GPUs for ~2 hours; latency-insensitive, so it may go west"),
        TaskType("offline-render", TaskSpec(
            3.6e7, _F32, 64.0, 128.0, None, 5_000.0, 2_000.0, deadline_s=21_600.0,
            task_class=cold,
        ), "Offline rendering: ~5 TFLOPS FP32 for 2 hours, due within 6 hours"),
    )  # fmt: skip
    return tuple(replace(t, spec=replace(t.spec, task_type=t.name)) for t in types)


# Where the catalogue's tagged data may go: vehicle data stays off the national hubs (road-side
# work is near the road), personal data on the operator's and its audited partners' nodes.
_DATA_POLICIES = (
    DataPolicy("vehicle", regions=("CN",), tiers=frozenset({Tier.ONSITE, Tier.EDGE, Tier.REGION})),
    DataPolicy(
        "personal",
        regions=("CN",),
        owners=frozenset(owner for owner, trust in _OWNERS if trust >= TrustLevel.VERIFIED),
    ),
)


def _workload(b: _Builder, terminals: _Layer, hubs: int, seed: int) -> Workload:
    """Poisson streams entering at the terminal sites, weighted by a lognormal population."""
    weights = np.maximum(np.round(b.rng.lognormal(0.0, 0.6, len(terminals)), 3), 0.001)
    ingress = tuple(zip(terminals.site_ids, weights.tolist(), strict=True))
    t = len(terminals)
    rates = {
        "ar-frame": 2.0 * t,
        "v2x-fusion": 5.0 * t,
        "risk-score": 1.0 * t,
        "model-training": hubs / 3600.0,
        "offline-render": hubs / 600.0,
    }
    arrivals = tuple(
        Arrivals(name, rate_per_s=round(rate, 6), ingress=ingress) for name, rate in rates.items()
    )
    return Workload(_task_types(), arrivals, duration_s=3600.0, seed=seed)


def _services(nodes: list[Node], profile: Ints) -> tuple[Service, ...]:
    """CS-IDs of the hot task types, with instances on the first few edge boxes that suit them."""
    services = []
    for sid, name, task_type, host in (
        ("cs-ar", "AR/VR rendering", "ar-frame", "edge-gpu-t4"),
        ("cs-v2x", "V2X fusion", "v2x-fusion", "edge-npu-atlas"),
    ):
        hosts = islice(np.flatnonzero(profile == _PROFILE_INDEX[host]).tolist(), 8)
        instances = tuple(
            ServiceInstance(InstanceId(f"csci-{sid[3:]}-{k}"), nodes[i].id)
            for k, i in enumerate(hosts, 1)
        )
        services.append(Service(ServiceId(sid), name, task_type, instances))
    return tuple(services)
