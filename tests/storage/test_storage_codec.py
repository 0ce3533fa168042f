"""The storage codec: the written-out placement encoder agrees with the generic field walk."""

from __future__ import annotations

import dataclasses

from suanwang.model import Estimate, Placement
from suanwang.storage.codec import _plain, placement_from_json, placement_to_json


def _placement() -> Placement:
    estimate = Estimate(
        network_ms=1.5,
        queueing_ms=2.5,
        compute_ms=3.5,
        cost=0.25,
        energy_kwh=0.125,
        carbon_g=7.0,
        fixed_ms=4.0,
    )
    return Placement(
        task_id="t1",
        node_id="n1",
        path=("a", "b", "c"),
        segments=("ab", "bc"),
        reserved_bandwidth_mbps=12.0,
        estimate=estimate,
        instance_id="i1",
    )


def test_placement_encoder_equals_the_generic_walk() -> None:
    placement = _placement()
    assert placement_to_json(placement) == _plain(placement)
    assert placement_from_json(placement_to_json(placement)) == placement


def test_placement_encoder_names_every_field() -> None:
    """A field added to Placement or Estimate fails here until the encoder writes it."""
    encoded = placement_to_json(_placement())
    assert encoded is not None
    assert list(encoded) == [f.name for f in dataclasses.fields(Placement)]
    assert list(encoded["estimate"]) == [f.name for f in dataclasses.fields(Estimate)]


def test_no_placement_stays_none() -> None:
    assert placement_to_json(None) is None
    assert placement_from_json(None) is None
