"""Prometheus series of the live market, read from its store when ``/metrics`` is scraped.

* ``suanwang_market_leases_started_total{rental}``: trades, the leases ever started;
* ``suanwang_market_leases_active{rental}``: leases binding nodes now;
* ``suanwang_market_revenue_total{provider}``: what each provider earned from settlements,
  in the plan's currency (``suanwang_market_fees_total``: the platform's share);
* ``suanwang_market_usage_total{dimension,detail}``: metered usage in each dimension's unit.

Leases and money are read whole at each scrape (the store keeps them). Usage is summed
incrementally: each scrape pages on from where the last one stopped (``usage_after``), at
most ``USAGE_PAGES_PER_SCRAPE`` pages, so a scrape stays bounded and a restarted server's
counters climb back to the store's totals over its first scrapes (a counter reset, as
Prometheus expects of a restart). The pager goes by the order stored (seq), so usage metered
late (a run metered again after a crash) is counted too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from suanwang.market.store import MarketStore

USAGE_PAGE = 1000
"""Usage events read per store query."""

USAGE_PAGES_PER_SCRAPE = 50
"""Most usage pages one scrape reads (50,000 events)."""


class MarketCollector(Collector):
    """The market's series (see the module docstring) for a ``CollectorRegistry``."""

    def __init__(self, store: MarketStore) -> None:
        self._store = store
        self._lock = threading.Lock()  # scrapes may overlap; the pager moves under it
        self._after: int | None = None  # the last usage seq counted
        self._usage: dict[tuple[str, str], float] = {}

    def _read_usage(self) -> dict[tuple[str, str], float]:
        with self._lock:
            for _ in range(USAGE_PAGES_PER_SCRAPE):
                page = self._store.usage_after(self._after, USAGE_PAGE)
                for _, event in page:
                    key = (event.dimension.value, event.detail)
                    self._usage[key] = self._usage.get(key, 0.0) + event.quantity
                if page:
                    self._after = page[-1][0]
                if len(page) < USAGE_PAGE:
                    break
            return dict(self._usage)

    def collect(self) -> Iterator[Metric]:
        """The series, read now."""
        started = CounterMetricFamily(
            "suanwang_market_leases_started", "Leases started (trades).", labels=["rental"]
        )
        active = GaugeMetricFamily(
            "suanwang_market_leases_active", "Leases binding nodes now.", labels=["rental"]
        )
        counts: dict[str, list[int]] = {}
        for lease in self._store.leases():
            count = counts.setdefault(lease.rental.value, [0, 0])
            count[0] += 1
            count[1] += lease.active
        for rental, (total, live) in sorted(counts.items()):
            started.add_metric([rental], total)
            active.add_metric([rental], live)
        revenue = CounterMetricFamily(
            "suanwang_market_revenue",
            "What each provider earned from lease settlements (plan currency).",
            labels=["provider"],
        )
        for provider, earned in sorted(self._store.payouts().items()):
            revenue.add_metric([provider], float(earned))
        fees = CounterMetricFamily(
            "suanwang_market_fees", "The platform's fees from lease settlements (plan currency)."
        )
        fees.add_metric([], float(self._store.fees()))
        usage = CounterMetricFamily(
            "suanwang_market_usage",
            "Metered usage in each dimension's unit (core-s, gib-s, gflop, ...).",
            labels=["dimension", "detail"],
        )
        for (dimension, detail), quantity in sorted(self._read_usage().items()):
            usage.add_metric([dimension, detail], quantity)
        yield from (started, active, revenue, fees, usage)
