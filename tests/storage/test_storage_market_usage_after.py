"""``MarketStore.usage_after``: usage in the order stored after a seq, by party, on every store."""

from __future__ import annotations

from test_storage_market import _event, _market

from suanwang.market import Dimension, UsageEvent
from suanwang.storage import Stores


def _keys(page: list[tuple[int, UsageEvent]]) -> list[str]:
    return [event.key for _, event in page]


def test_usage_pages_in_the_order_stored_and_filters_by_party(stores: Stores) -> None:
    market = _market(stores)
    market.ingest(
        [
            _event("r3", Dimension.CORE_SECONDS, 1.0, ended_s=300.0),
            _event("r1", Dimension.TASKS, 1.0, ended_s=100.0),
            _event("r1", Dimension.CORE_SECONDS, 2.0, ended_s=100.0),
            _event("r2", Dimension.CORE_SECONDS, 3.0, ended_s=200.0, tenant="globex"),
        ]
    )
    everything = ["r3/core-s", "r1/tasks", "r1/core-s", "r2/core-s"]
    page = market.usage_after(None, 10)
    assert _keys(page) == everything
    assert [seq for seq, _ in page] == [1, 2, 3, 4]
    first = market.usage_after(None, 2)
    assert _keys(first) == everything[:2]
    assert _keys(market.usage_after(first[-1][0], 10)) == everything[2:]
    assert _keys(market.usage_after(2, 1)) == ["r1/core-s"]
    assert _keys(market.usage_after(None, 10, party="globex")) == ["r2/core-s"]
    assert _keys(market.usage_after(None, 10, party="prov-a")) == everything
    assert market.usage_after(None, 10, party="nobody") == []


def test_usage_stored_later_is_served_after_the_cursor_though_its_run_ended_earlier(
    stores: Stores,
) -> None:
    """A run metered again after a crash ends before events already read: it is not skipped."""
    market = _market(stores)
    market.ingest([_event("r2", Dimension.TASKS, 1.0, ended_s=200.0)])
    read = market.usage_after(None, 10)
    assert _keys(read) == ["r2/tasks"]
    market.ingest(
        [
            _event("r2", Dimension.TASKS, 1.0, ended_s=200.0),  # a replay: no new seq
            _event("r1", Dimension.TASKS, 1.0, ended_s=50.0),
        ]
    )
    after = market.usage_after(read[-1][0], 10)
    assert _keys(after) == ["r1/tasks"]
    assert after[0][0] == read[-1][0] + 1
