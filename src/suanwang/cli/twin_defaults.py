"""What a first ``suanwang twin run`` simulates when ``--duration`` and ``--rate-scale`` are unset.

At one minute and the scenarios' own rates the fleets stayed near 0 % load (east-west's busiest
tier peaked at 1.9 %), so a first run showed nothing. Each built-in has a window and a rate
multiplier measured to load its busiest tier visibly within seconds to tens of seconds of wall
time (seed 1, cats-joint, from 20 h; peak reserved share of the tier's resource its work holds
most of). Files and names the table lacks keep one minute at rate 1, and so does a run given
either option (the other takes its plain value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer


@dataclass(frozen=True, slots=True)
class FirstRun:
    """A run's window and arrival-rate multiplier."""

    duration_s: float
    rate_scale: float


PLAIN = FirstRun(duration_s=60.0, rate_scale=1.0)
"""Scenario files and unknown names: one simulated minute at the file's own rates."""

FIRST_RUNS: dict[str, FirstRun] = {
    # edge accelerators peak at 36 %; 19,056 tasks, 6 s wall
    "campus": FirstRun(duration_s=15.0, rate_scale=4.0),
    # edge CPU peaks at 33 %, 1,039 frames of 11,043 refused for the 20 ms budget; 3 s wall
    "cats-arvr": FirstRun(duration_s=20.0, rate_scale=20.0),
    # edge accelerators peak at 19 %; 34,381 tasks, 19 s wall
    "east-west": FirstRun(duration_s=4.0, rate_scale=150.0),
    # region accelerators peak at 25 %; 30,531 tasks, 9 s wall
    "metro-edge": FirstRun(duration_s=10.0, rate_scale=10.0),
    # batch work arrives over hours: six of them; region CPU peaks at 10 %; 1 s wall
    "supercomputing-internet": FirstRun(duration_s=21_600.0, rate_scale=1.0),
}
"""The measured first-run settings of the built-ins (README, "Digital twin")."""

RunDurationOption = Annotated[
    float | None,
    typer.Option(
        "--duration",
        "-d",
        help="Simulated seconds of arrivals (default, for a first try: a built-in's measured "
        "window when --rate-scale is not given either, else 60; a workload describes up to a "
        "day, 86400).",
        show_default=False,
    ),
]
RunRateOption = Annotated[
    float | None,
    typer.Option(
        "--rate-scale",
        help="Multiply every stream's arrival rate (default: a built-in's first-run scale when "
        "--duration is not given either, else 1).",
        show_default=False,
    ),
]


def first_run(scenario: str, duration_s: float | None, rate_scale: float | None) -> FirstRun:
    """The window and rate of a run: the built-in's pair when neither is given, else ``PLAIN``'s.

    The pair goes together: ``--duration 86400`` alone means a day at the scenario's own rates,
    not a day at a first run's multiplied ones.
    """
    if duration_s is None and rate_scale is None:
        return FIRST_RUNS.get(scenario, PLAIN)
    return FirstRun(
        duration_s=PLAIN.duration_s if duration_s is None else duration_s,
        rate_scale=PLAIN.rate_scale if rate_scale is None else rate_scale,
    )
