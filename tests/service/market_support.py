"""What the live market's plane tests share: a metro-edge plane with a market, on SQLite."""

from __future__ import annotations

from collections.abc import Sequence

from suanwang.bootstrap import journal_for
from suanwang.control.ports import ManualClock
from suanwang.control.stores import Principal, Role, StoreUnavailableError
from suanwang.execution import AgentDispatch
from suanwang.market import Ingest, UsageEvent
from suanwang.market.store import MarketStore
from suanwang.model import TaskSpec
from suanwang.scenario import load_builtin
from suanwang.scheduling import resolve_profile
from suanwang.service import ControlPlane
from suanwang.service.agents import AgentPolicy
from suanwang.storage import Stores

DAY_S = 86_400.0
START_S = 10 * DAY_S
ACME = Principal("alice", "acme", frozenset({Role.CONSUMER}))
SPEC = TaskSpec(work_gflop=5.0, cpu_cores=2.0, mem_gib=4.0, ingress_site="term-futian")


class UnreachableUsage:
    """The market store, with usage ingest failing as if the database were away."""

    def __init__(self, inner: MarketStore) -> None:
        self.inner = inner
        self.period_s = inner.period_s

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def ingest(self, events: Sequence[UsageEvent]) -> list[Ingest]:
        raise StoreUnavailableError("usage table unreachable")


def make_plane(stores: Stores, clock: ManualClock, market: MarketStore) -> ControlPlane:
    """A started metro-edge plane under cats-joint with ``market``, agents not required."""
    plane = ControlPlane(
        stores,
        journal_for(stores),
        load_builtin("metro-edge"),
        resolve_profile("cats-joint"),
        dispatch=AgentDispatch,
        clock=clock,
        agents=AgentPolicy(require_agent=False),
        market=market,
    )
    plane.start()
    return plane
