"""The unified compute measure: t = work / (peak x efficiency), scalar and vectorised."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanwang.measure import (
    CPU,
    DEFAULT_EFFICIENCY,
    DEVICES,
    ComputeDemand,
    EfficiencyTable,
    WorkloadClass,
    compute_time_s,
    compute_time_s_array,
)
from suanwang.model import (
    Accelerator,
    AcceleratorKind,
    AcceleratorNeed,
    Node,
    Precision,
    Site,
    TaskSpec,
    Tier,
    Topology,
)

GPU = Accelerator(
    AcceleratorKind.GPU,
    "A100",
    count=2,
    peak_gflops={Precision.FP32: 19_500, Precision.FP16: 312_000},
)
NODES = [
    Node("cpu-only", "s", cpu_cores=8, cpu_peak_gflops={Precision.FP64: 100, Precision.FP32: 200}),
    Node("gpu", "s", cpu_cores=64, cpu_peak_gflops={Precision.FP32: 2000}, accelerators=(GPU,)),
    Node("empty", "s"),
]
TOPOLOGY = Topology(sites=[Site("s", Tier.EDGE)], nodes=NODES)


def test_formula_by_hand():
    demand = ComputeDemand(1400.0, Precision.FP32, workload_class=WorkloadClass.DENSE, device=CPU)
    # 1400 GFLOP / (200 GFLOPS x 0.7) = 10 s
    assert compute_time_s(NODES[0], demand) == pytest.approx(10.0)
    gpu = ComputeDemand(39_000 * 0.6, Precision.FP32, device="gpu")
    assert compute_time_s(NODES[1], gpu) == pytest.approx(1.0)  # two devices together
    assert compute_time_s(NODES[0], gpu) == float("inf")
    assert compute_time_s(NODES[2], ComputeDemand(1.0)) == float("inf")


def test_fastest_device_when_none_is_named():
    demand = ComputeDemand(1000.0, Precision.FP16)
    expected = 1000.0 / (624_000 * DEFAULT_EFFICIENCY.efficiency("gpu", WorkloadClass.DENSE))
    assert compute_time_s(NODES[1], demand) == pytest.approx(expected)


@given(
    work=st.floats(0, 1e9),
    precision=st.sampled_from(list(Precision)),
    workload=st.sampled_from(list(WorkloadClass)),
    device=st.sampled_from([None, *DEVICES]),
)
def test_vectorised_matches_scalar(work, precision, workload, device):
    demand = ComputeDemand(work, precision, workload_class=workload, device=device)
    vector = compute_time_s_array(TOPOLOGY.arrays, demand)
    scalar = [compute_time_s(node, demand) for node in NODES]
    np.testing.assert_allclose(vector, scalar, rtol=1e-12)


def test_demand_from_task_and_validation():
    spec = TaskSpec(
        8000.0, Precision.FP16, mem_gib=1.0, accelerator=AcceleratorNeed(AcceleratorKind.GPU)
    )
    demand = ComputeDemand.from_task(spec, WorkloadClass.INFERENCE)
    assert (demand.device, demand.mem_gib, demand.workload_class) == ("gpu", 1.0, "inference")
    assert ComputeDemand.from_task(TaskSpec(1.0)).device == CPU
    with pytest.raises(ValueError, match="unknown device"):
        ComputeDemand(1.0, device="tpu")
    with pytest.raises(ValueError, match="negative"):
        ComputeDemand(-1.0)


def test_efficiency_table_overrides_from_yaml(tmp_path):
    path = tmp_path / "efficiency.yaml"
    path.write_text("cpu:\n  dense: 0.35\ngpu:\n  inference: 0.9\n", encoding="utf-8")
    table = EfficiencyTable.from_yaml(path)
    assert table.efficiency(CPU, WorkloadClass.DENSE) == 0.35
    assert table.efficiency("gpu", WorkloadClass.INFERENCE) == 0.9
    assert table.efficiency("npu", WorkloadClass.DENSE) == DEFAULT_EFFICIENCY.efficiency(
        "npu", WorkloadClass.DENSE
    )
    demand = ComputeDemand(1400.0, Precision.FP32, device=CPU)
    assert compute_time_s(NODES[0], demand, table) == pytest.approx(20.0)
    assert compute_time_s_array(TOPOLOGY.arrays, demand, table)[0] == pytest.approx(20.0)
    with pytest.raises(ValueError, match="unknown device"):
        EfficiencyTable.from_mapping({"tpu": {"dense": 0.5}})
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        EfficiencyTable.from_mapping({"cpu": {"dense": 1.5}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected a mapping"):
        EfficiencyTable.from_yaml(bad)
