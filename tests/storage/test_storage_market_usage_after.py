"""``MarketStore.usage_after``: usage in (ended_s, key) order after a position, by party."""

from __future__ import annotations

from test_storage_market import _event, _market

from suanwang.market import Dimension, UsageEvent
from suanwang.storage import Stores


def _keys(events: list[UsageEvent]) -> list[str]:
    return [event.key for event in events]


def test_usage_pages_in_time_then_key_order_and_filters_by_party(stores: Stores) -> None:
    market = _market(stores)
    market.ingest(
        [
            _event("r3", Dimension.CORE_SECONDS, 1.0, ended_s=300.0),
            _event("r1", Dimension.TASKS, 1.0, ended_s=100.0),
            _event("r1", Dimension.CORE_SECONDS, 2.0, ended_s=100.0),
            _event("r2", Dimension.CORE_SECONDS, 3.0, ended_s=200.0, tenant="globex"),
        ]
    )
    everything = ["r1/core-s", "r1/tasks", "r2/core-s", "r3/core-s"]
    assert _keys(market.usage_after(None, 10)) == everything
    first = market.usage_after(None, 2)
    assert _keys(first) == everything[:2]
    last = first[-1]
    assert _keys(market.usage_after((last.ended_s, last.key), 10)) == everything[2:]
    assert _keys(market.usage_after((100.0, "r1/core-s"), 1)) == ["r1/tasks"]
    assert _keys(market.usage_after(None, 10, party="globex")) == ["r2/core-s"]
    assert _keys(market.usage_after(None, 10, party="prov-a")) == everything
    assert market.usage_after(None, 10, party="nobody") == []
