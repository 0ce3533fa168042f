"""What of an EdgeSimPy dataset changes with time: where users are.

Helpers of ``edgesimpy``'s importer (its docstring states the mapping); each reads the parsed
sections and raises through the importer's ``fail`` with the JSON path of bad input.

* **Where users are**: each step of a user's ``coordinates_trace`` (else its ``coordinates``)
  is at the base station with those coordinates (EdgeSimPy moves users between base stations
  of its grid), else at its ``base_station``.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from suanwang.scenario.importers.edgesimpy import _Importer


def user_stations(imp: _Importer, row: int) -> Counter[int]:
    """Steps user ``row`` spends at each base station (by EdgeSimPy id) along its trace."""
    at: dict[tuple[float, float], int] = {}
    for i, entry in enumerate(imp.sections["BaseStation"]):
        xy = entry["attributes"].get("coordinates")
        if isinstance(xy, list) and len(xy) == 2:
            at.setdefault((float(xy[0]), float(xy[1])), imp.eid("BaseStation", i))
    attributes = imp.sections["User"][row]["attributes"]
    trace = attributes.get("coordinates_trace") or [attributes.get("coordinates")]
    if not isinstance(trace, list):
        imp.fail(("User", row, "attributes", "coordinates_trace"), "should be a list", trace)
    home = imp.ref("User", row, "base_station", "BaseStation")
    steps: Counter[int] = Counter()
    for step in trace:
        station = home
        if isinstance(step, list) and len(step) == 2 and all(_is_number(v) for v in step):
            station = at.get((float(step[0]), float(step[1])), home)
        if station is not None:
            steps[station] += 1
    return steps


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
