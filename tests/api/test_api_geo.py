"""``GET /v1/geo/outlines``: province outlines from the installed geodata, small and cached."""

from __future__ import annotations

import numpy as np
from api_support import Api

from suanwang.api.outlines import province_outlines, simplify


def test_outlines_are_the_provinces_simplified(api: Api) -> None:
    response = api.call("alice", "GET", "/v1/geo/outlines")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    assert "max-age" in response.headers["cache-control"]
    assert len(response.content) < 400_000  # a national map's worth, not the survey
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    names = {f["properties"]["name"] for f in collection["features"]}
    assert {"北京市", "四川省", "新疆维吾尔自治区", "广东省"} <= names
    assert len(names) >= 30
    for feature in collection["features"]:
        assert feature["geometry"]["type"] == "MultiPolygon"
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                assert len(ring) >= 4
                lons, lats = np.asarray(ring).T
                assert lons.min() >= 73
                assert lons.max() <= 136
                assert lats.min() >= 3
                assert lats.max() <= 54
    # Built once per process: the second answer is the very same bytes.
    assert api.call("alice", "GET", "/v1/geo/outlines").content == response.content
    assert province_outlines() is province_outlines()


def test_outlines_need_a_token(api: Api) -> None:
    assert api.client.get("/v1/geo/outlines").status_code == 401


def test_simplify_keeps_the_corners_within_tolerance() -> None:
    # A square's sides sampled densely, with a 0.001 wobble: only the corners matter.
    t = np.linspace(0.0, 1.0, 101)
    wobble = 0.001 * np.sin(t * 40)
    square = np.concatenate(
        [
            np.c_[t, wobble],
            np.c_[1 + wobble, t],
            np.c_[1 - t, 1 + wobble],
            np.c_[wobble, 1 - t],
        ]
    )
    kept = simplify(square, 0.01)
    assert len(kept) <= 8
    for corner in ([0, 0], [1, 0], [1, 1], [0, 1]):
        assert np.min(np.hypot(*(kept - corner).T)) < 0.01
    assert len(simplify(square[:2], 0.01)) == 2
