"""Intent files and their translation by the catalogue's rules."""

from __future__ import annotations

import math

import pytest

from suanwang.scenario import ScenarioError
from suanwang.scenario.intent import default_catalogue, load_catalogue, read_intent, translate

CAMERAS = """\
version: 1
name: shop-cameras
need: {kind: video-analytics, cameras: 200}
coverage: {sites: [edge-north, edge-south], regions: [CN-GD]}
quality: {latency_ms: 30, availability: 0.999}
budget: 9
carbon: low
"""


def test_an_intent_becomes_replicas_with_each_figure_and_its_rule() -> None:
    found = translate(read_intent(CAMERAS, "cams.yaml"))
    rows = {row.field: row for row in found.derivations}
    # 200 cameras at 25 a replica, plus one spare for 99.9 % availability.
    assert rows["replicas for the load"].value == "8"
    assert "ceil(200 cameras / 25 per replica)" in rows["replicas for the load"].rule
    assert rows["spare replicas"].value == "1"
    assert len(found.specs) == 9
    spec = found.specs[0]
    assert spec.work_gflop == pytest.approx(0.02 * 25)
    assert rows["work_gflop per replica"].rule.startswith("0.02 per unit x 25 units")
    assert spec.latency_budget_ms == 30
    assert spec.budget == pytest.approx(1.0)
    assert spec.residency == ("CN-GD",)
    assert spec.long_running
    assert [s.ingress_site for s in found.specs[:3]] == ["edge-north", "edge-south", "edge-north"]
    assert found.profile == "green"
    assert rows["profile"].rule == "carbon low (catalogue carbon_profiles)"


def test_training_is_sized_by_its_deadline() -> None:
    text = """\
version: 1
name: nightly
need: {kind: nightly-training, gpu_days: 2}
coverage: {regions: [CN]}
quality: {deadline_s: 43200, availability: 0.9}
"""
    found = translate(read_intent(text))
    # 2 GPU-days in 12 hours need 4 GPUs; no spares below 99.9 %.
    assert len(found.specs) == 4
    assert all(s.accelerator is not None and s.accelerator.count == 1 for s in found.specs)
    assert all(s.deadline_s == 43200 for s in found.specs)
    assert found.specs[0].work_gflop == pytest.approx(1e6 * 0.5)


def test_the_default_latency_target_comes_from_the_catalogue() -> None:
    text = "version: 1\nname: vr\nneed: {kind: ar-vr, users: 5}\ncoverage: {sites: [users]}\n"
    found = translate(read_intent(text))
    assert found.latency_target_ms == default_catalogue().entry("ar-vr").latency_ms
    assert any(
        r.rule == "catalogue ar-vr.latency_ms: a request's whole time" for r in found.derivations
    )


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (CAMERAS.replace("video-analytics", "video"), "3: need.kind", "'video'"),
        (CAMERAS.replace("cameras: 200", "users: 200"), "3: need.users", "cameras"),
        (CAMERAS.replace("cameras: 200", "cameras: -3"), "need.cameras", "-3"),
        (CAMERAS.replace("latency_ms: 30", "latency_ms: fast"), "5: quality.latency_ms", "fast"),
        (
            CAMERAS.replace("availability: 0.999", "availability: 2.0"),
            "quality.availability",
            "2.0",
        ),
        (CAMERAS.replace("carbon: low", "carbon: zero"), "7: carbon", "zero"),
        (CAMERAS.replace("budget: 9", "budgt: 9"), "6: budgt", "unknown field"),
        (
            CAMERAS.replace("sites: [edge-north, edge-south], regions: [CN-GD]", ""),
            "coverage",
            "region or site",
        ),
    ],
)
def test_bad_intents_name_file_line_field_and_value(text: str, where: str, words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        read_intent(text, "cams.yaml")
    line = str(caught.value)
    assert line.startswith("cams.yaml:")
    assert where in line
    assert words in line


def test_a_deadline_sized_need_without_deadline_is_refused() -> None:
    catalogue = load_catalogue((default_catalogue_text()).replace("    deadline_s: 28800\n", ""))
    doc = read_intent(
        "version: 1\nname: t\nneed: {kind: nightly-training, gpu_days: 1}\n"
        "coverage: {regions: [CN]}\n",
        catalogue=catalogue,
    )
    with pytest.raises(ValueError, match=r"quality\.deadline_s"):
        translate(doc, catalogue)


def test_spares_follow_the_highest_availability_rule_reached() -> None:
    catalogue = default_catalogue()
    assert catalogue.spares_for(0.99) is None
    rule = catalogue.spares_for(0.99995)
    assert rule is not None
    assert rule.spares == 2
    assert not math.isnan(rule.availability_at_least)


def default_catalogue_text() -> str:
    from importlib import resources

    return (
        resources.files("suanwang.scenario.intent")
        .joinpath("catalogue.yaml")
        .read_text(encoding="utf-8")
    )


def test_batch_jobs_are_one_request_per_job_due_by_the_deadline() -> None:
    text = (
        "version: 1\nname: reports\nneed: {kind: batch-analytics, jobs: 3}\n"
        "coverage: {sites: [users]}\nquality: {deadline_s: 600}\n"
    )
    found = translate(read_intent(text))
    assert len(found.specs) == 3  # no spares below 99.9 %
    assert all(s.deadline_s == 600 and not s.long_running for s in found.specs)
    assert found.specs[0].work_gflop == pytest.approx(20.0)
