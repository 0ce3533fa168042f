"""Probes on this machine, with small sizes (a few seconds)."""

import math
import os

import numpy as np
import psutil

from suanwang.measure import MetricLevel, Statistic
from suanwang.measure.probes import (
    PROBE_STEPS,
    ProbeSettings,
    cpu_gflops,
    gpu_gflops,
    gpu_name,
    measure_machine,
    mem_bandwidth_gbps,
)

SMALL = ProbeSettings(matrix_size=128, repeats=2, copy_mib=4)


def test_single_probes_are_plausible():
    assert cpu_gflops(np.float64, 128, 2) > 0
    assert cpu_gflops(np.float32, 128, 2) > 0
    assert mem_bandwidth_gbps(4, 2) > 0


def test_measure_machine_reports_records_scores_and_spread():
    steps: list[str] = []
    result = measure_machine(3, SMALL, on_step=steps.append, node_id="here")
    assert steps == list(PROBE_STEPS) * 3
    assert result.runs == 3
    assert all(len(values) == 3 for values in result.samples.values())
    assert result.samples["cpu_cores"][0] in {os.cpu_count(), psutil.cpu_count()}
    assert min(result.samples["cpu_fp64_gflops"]) > 0
    assert min(result.samples["cpu_fp32_gflops"]) > 0
    assert min(result.samples["mem_bandwidth_gbps"]) > 0
    assert 0 < result.samples["mem_gib"][0] < 1e6
    assert result.samples["disk_free_gib"][0] >= 0
    assert 0.0 <= result.l2 <= 10.0
    assert all(0.0 <= score <= 10.0 for score in result.l2_per_run)
    assert result.l2_spread >= 0.0
    assert not math.isnan(result.l1["compute"])
    assert math.isnan(result.l1["communication"])  # local probes do not touch the network
    records = result.records()
    levels = {record.level for record in records}
    assert levels == {MetricLevel.L0, MetricLevel.L1, MetricLevel.L2}
    fp64 = {r.statistic: r.value for r in records if r.metric_type == "cpu_fp64_gflops"}
    assert set(fp64) == set(Statistic)
    assert fp64[Statistic.MIN] <= fp64[Statistic.MEAN] <= fp64[Statistic.MAX]
    assert all(record.subject_id == "here" for record in records)
    data = result.to_dict()
    assert data["runs"] == 3
    assert len(data["l2_per_run"]) == 3


def test_gpu_is_absent_without_torch_or_cuda_and_never_invented():
    has_gpu = gpu_name() is not None
    rates = gpu_gflops(128, 1)
    assert bool(rates) == has_gpu
    result = measure_machine(1, SMALL)
    assert ("gpu_fp32_gflops" in result.samples) == has_gpu
    assert (result.gpu is not None) == has_gpu
    assert "gpu_fp32_gflops" not in measure_machine(1, ProbeSettings(128, 1, 4, gpu=False)).samples
