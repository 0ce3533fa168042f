"""The twin's state feed: the live plane's ``StateFeed`` over simulated time.

A twin run gives its scheduling state the hour through the same ``control.feed.StateFeed``
the live plane ticks, so that what a twin run shows is what the live code path decides on.
The twin has no agents and no probes: its aggregator holds no reports, so every node is
neutral (the ledger alone says what is loaded, as live for a node whose agent never reported)
and links keep their configured latency. Its clock reads ``start_hour`` hours plus the
simulated seconds, and the feed gives every node that one hour (``local_hours=False``): a
scenario's hours are local to each of its sites, as its carbon profiles are written.
"""

from __future__ import annotations

from suanwang.control.awareness import Aggregator
from suanwang.control.feed import SECONDS_PER_HOUR, StateFeed
from suanwang.model import Topology
from suanwang.security import KeyRing, Verifier
from suanwang.twin.loop import EventLoop


class TwinClock:
    """``start_hour`` hours plus the loop's simulated seconds (the ``Clock`` port).

    Args:
        loop: The twin's event loop (simulated seconds from 0).
        start_hour: The hour of day at simulated time 0.
    """

    def __init__(self, loop: EventLoop, start_hour: float) -> None:
        self._loop = loop
        self._offset_s = start_hour * SECONDS_PER_HOUR

    def now_s(self) -> float:
        """Seconds since midnight of day 0 of the run."""
        return self._offset_s + self._loop.now_s()


def twin_feed(topology: Topology, loop: EventLoop, start_hour: float) -> StateFeed:
    """A feed for ``topology`` on the twin's clock, with no reports and no link measurements."""
    clock = TwinClock(loop, start_hour)
    aggregator = Aggregator.from_topology(topology, Verifier(KeyRing()), clock)
    return StateFeed(aggregator, clock, local_hours=False)
