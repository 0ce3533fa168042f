"""Property: any valid scenario survives dump -> load unchanged, in YAML and in JSON."""

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanwang.model import (
    Accelerator,
    AcceleratorKind,
    AcceleratorNeed,
    Architecture,
    Arrivals,
    DataPolicy,
    ElementKind,
    EnergyProfile,
    FailureScope,
    GeoPosition,
    InNetworkCompute,
    Link,
    NetworkElement,
    Node,
    Precision,
    RandomFailures,
    Scenario,
    ScriptedFailure,
    Site,
    TaskClass,
    TaskSpec,
    TaskType,
    Tier,
    Topology,
    TrustLevel,
    Workload,
)
from suanwang.scenario import dumps_scenario, loads_scenario

finite = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
rates = st.dictionaries(st.sampled_from(list(Precision)), finite, max_size=4)
labels = st.dictionaries(
    st.text("abcxyz", min_size=1, max_size=4), st.text(max_size=6), max_size=2
).map(lambda d: tuple(sorted(d.items())))
PROFILES = {
    "green": EnergyProfile("green", pue=1.15, carbon_g_per_kwh=90, price_per_kwh=0.25),
    "coal": EnergyProfile(
        "coal", pue=1.5, carbon_g_per_kwh=800, carbon_profile_g_per_kwh=tuple(range(24))
    ),
}


@st.composite
def scenarios(draw: Any) -> Scenario:
    n_sites = draw(st.integers(1, 6))
    sites = [
        Site(
            id=f"s{i}",
            tier=draw(st.sampled_from(list(Tier))),
            name=draw(st.text(max_size=8)),
            region=draw(st.sampled_from(["", "CN-BJ", "CN-NX"])),
            geo=draw(
                st.none()
                | st.builds(
                    GeoPosition,
                    st.floats(-90, 90, allow_nan=False),
                    st.floats(-180, 180, allow_nan=False),
                )
            ),
            energy=draw(
                st.sampled_from([EnergyProfile(), *PROFILES.values()])
                | st.builds(EnergyProfile, pue=st.floats(1, 3), carbon_g_per_kwh=finite)
            ),
            labels=draw(labels),
        )
        for i in range(n_sites)
    ]
    site_ids = [s.id for s in sites]
    elements = [
        NetworkElement(
            f"e{i}",
            draw(st.sampled_from(list(ElementKind))),
            site_id=draw(st.none() | st.sampled_from(site_ids)),
            compute=draw(
                st.none() | st.builds(InNetworkCompute, st.integers(0, 64), finite, finite)
            ),
        )
        for i in range(draw(st.integers(0, 3)))
    ]
    vertices = site_ids + [e.id for e in elements]
    nodes = []
    for i in range(draw(st.integers(0, 8))):
        idle = draw(finite)
        nodes.append(
            Node(
                id=f"n{i}",
                site_id=draw(st.sampled_from(site_ids)),
                arch=draw(st.sampled_from(list(Architecture))),
                cpu_cores=draw(st.integers(0, 256)),
                mem_gib=draw(finite),
                cpu_peak_gflops=draw(rates),
                accelerators=tuple(
                    draw(
                        st.lists(
                            st.builds(
                                Accelerator,
                                kind=st.sampled_from(list(AcceleratorKind)),
                                model=st.text("ABC123", min_size=1, max_size=5),
                                count=st.integers(1, 8),
                                peak_gflops=rates,
                                mem_gib=finite,
                            ),
                            max_size=2,
                        )
                    )
                ),
                idle_power_w=idle,
                peak_power_w=idle + draw(finite),
                trust_level=draw(st.sampled_from(list(TrustLevel))),
                price_per_hour=draw(finite),
                labels=draw(labels),
            )
        )
    links = []
    if len(vertices) > 1:
        for i in range(draw(st.integers(0, 6))):
            a, b = draw(st.lists(st.sampled_from(vertices), min_size=2, max_size=2, unique=True))
            bandwidth = draw(positive)
            links.append(
                Link(
                    f"l{i}",
                    a,
                    b,
                    bandwidth_mbps=bandwidth,
                    latency_ms=draw(finite),
                    loss_ratio=draw(st.floats(0, 0.99)),
                    slice_mbps=draw(st.floats(0, 1)) * bandwidth,
                )
            )
    spec = TaskSpec(
        work_gflop=draw(finite),
        precision=draw(st.sampled_from(list(Precision))),
        accelerator=draw(
            st.none() | st.builds(AcceleratorNeed, st.sampled_from(list(AcceleratorKind)))
        ),
        latency_budget_ms=draw(st.none() | positive),
        task_class=draw(st.sampled_from(list(TaskClass))),
        residency=tuple(draw(st.lists(st.sampled_from(["CN-BJ", "CN"]), max_size=2))),
        data_tags=frozenset(draw(st.lists(st.sampled_from(["personal", "medical"])))),
        min_trust_level=draw(st.sampled_from(list(TrustLevel))),
        task_type="t0",
        fixed_latency_ms=draw(st.sampled_from([0.0, 9.4]) | finite),
    )
    # Every tag a task may carry has a policy (convert refuses the others); some policies
    # restrict nothing, some everything they can.
    policies = [
        DataPolicy(
            tag,
            regions=tuple(draw(st.lists(st.sampled_from(["CN", "CN-BJ", "DE-BE-1"]), max_size=2))),
            tiers=frozenset(draw(st.lists(st.sampled_from(list(Tier)), max_size=3))),
            owners=frozenset(draw(st.lists(st.sampled_from(["operator", "clinic"]), max_size=2))),
        )
        for tag in ("personal", "medical", *draw(st.lists(st.sampled_from(["open"]), max_size=1)))
    ]
    workload = Workload(
        task_types=(TaskType("t0", spec, draw(st.text(max_size=10))),),
        arrivals=(Arrivals("t0", rate_per_s=draw(finite), ingress=((site_ids[0], 1.0),)),),
        duration_s=draw(positive),
        seed=draw(st.integers(0, 2**31)),
    )
    failures = draw(
        st.lists(
            st.builds(ScriptedFailure, st.sampled_from(site_ids), finite, st.none() | positive)
            | st.builds(RandomFailures, st.just(FailureScope.LINKS), positive, positive),
            max_size=2,
        )
    )
    return Scenario(
        name="prop",
        topology=Topology(sites, nodes, elements, links, policies),
        description=draw(st.text(max_size=20)),
        workload=workload,
        failures=tuple(failures),
        energy_profiles=PROFILES,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.sampled_from(["yaml", "json"]))
def test_dump_then_load_gives_an_equal_scenario(scenario: Scenario, fmt: str) -> None:
    text = dumps_scenario(scenario, fmt)  # type: ignore[arg-type]
    assert loads_scenario(text, fmt) == scenario  # type: ignore[arg-type]
