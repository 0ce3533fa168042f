"""What the report's figures show: plain log ticks, device share for GPU work, the work's carbon."""

from __future__ import annotations

from typing import Any

import pytest

from suanwang.scenario import load_builtin
from suanwang.twin import TwinConfig, TwinResult, run_twin
from suanwang.twin.compare import compare_profiles, comparison_figure, comparison_rows
from suanwang.twin.report import (
    SLA_TARGET,
    energy_figure,
    latency_figure,
    plain_number,
    series_figure,
)
from suanwang.twin.summary import summarise


@pytest.fixture(scope="module")
def campus() -> TwinResult:
    """campus: its edge work holds accelerators, barely any CPU."""
    config = TwinConfig(profile="cats-joint", duration_s=4.0, seed=3, start_hour=20, buckets=20)
    return run_twin(load_builtin("campus"), config)


def _draw(figure: Any) -> None:
    figure.canvas.draw()  # tick labels are only set when drawn


def test_plain_numbers_have_no_exponent() -> None:
    assert [plain_number(v) for v in (0.01, 1, 10, 1e3, 1e5)] == [
        "0.01",
        "1",
        "10",
        "1,000",
        "100,000",
    ]


def test_log_axes_label_ticks_plainly(campus: TwinResult) -> None:
    summary = summarise(campus)
    figure: Any = latency_figure(summary)
    _draw(figure)
    axis = figure.axes[0]
    assert axis.get_yscale() == "log"
    labels = [t.get_text() for t in axis.get_yticklabels() if t.get_text()]
    assert labels
    assert not any("^" in label or "e" in label.lower() for label in labels), labels


def test_latency_panel_draws_each_class_budget(campus: TwinResult) -> None:
    summary = summarise(campus)
    budgets = {c["budget_ms"]["min"] for c in summary["classes"].values()} - {None}
    assert budgets
    axis: Any = latency_figure(summary).axes[0]
    drawn = {round(float(y), 6) for c in axis.collections for y in c.get_segments()[0][:, 1]}
    assert {round(b, 6) for b in budgets} <= drawn
    assert "SLA budget" in axis.get_legend_handles_labels()[1]


def test_gpu_bound_utilisation_is_drawn_as_device_share(campus: TwinResult) -> None:
    summary = summarise(campus)
    assert summary["utilisation"]["edge"]["accelerator"] > summary["utilisation"]["edge"]["cpu"]
    figure: Any = series_figure(summary, campus.series.rows())
    util = next(ax for ax in figure.axes if "share, %" in ax.get_ylabel())
    labels = util.get_legend_handles_labels()[1]
    assert "edge (accelerators)" in labels
    assert util.get_ylim()[1] >= 5  # never a 0-0.0015 axis
    edge = next(line for line in util.get_lines() if line.get_label() == "edge (accelerators)")
    assert max(edge.get_ydata()) > 1  # percent of devices, visible


def test_sla_panel_draws_the_target(campus: TwinResult) -> None:
    figure: Any = series_figure(summarise(campus), campus.series.rows())
    sla = next(ax for ax in figure.axes if ax.get_ylabel().startswith("SLA met"))
    assert any(list(line.get_ydata()) == [100 * SLA_TARGET] * 2 for line in sla.get_lines())


def test_energy_figure_separates_work_from_idle_draw(campus: TwinResult) -> None:
    summary = summarise(campus)
    assert 0 < summary["work_energy_kwh"] < summary["energy_kwh"]
    assert 0 < summary["work_carbon_kg"] < summary["carbon_kg"]
    figure: Any = energy_figure(summary, campus.series.rows())
    labels = [ax.get_ylabel() for ax in figure.axes]
    assert "carbon of the work, kg CO2e" in labels
    assert not any("task runs" in label for label in labels)
    rows = campus.series.rows()
    assert sum(r["work_carbon_kg"] for r in rows) == pytest.approx(summary["work_carbon_kg"])


def test_compare_carbon_panel_shows_work_carbon_that_differs_by_profile() -> None:
    base = TwinConfig(profile="nearest", duration_s=4.0, seed=3, start_hour=20, buckets=10)
    results = compare_profiles(load_builtin("campus"), ["nearest", "green"], base)
    rows = comparison_rows(results)
    header = {"scenario": "campus", "seed": 3, "duration_s": 4.0, "start_hour": 20}
    figure: Any = comparison_figure(rows, header)
    carbon = next(ax for ax in figure.axes if ax.get_ylabel() == "carbon of the work, kg CO2e")
    heights = [patch.get_height() for patch in carbon.patches]
    assert heights == pytest.approx([row["work_carbon_kg"] for row in rows])
    assert heights[0] != pytest.approx(heights[1])
    assert all(t.get_text().startswith("total ") for t in carbon.texts)
