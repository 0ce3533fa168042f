"""A small thread-safe LRU map: the one cache shape the routing package needs."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class LruCache(Generic[_K, _V]):
    """At most ``capacity`` entries; the least recently used one goes first.

    ``get_or_build`` computes outside the lock, so two threads asking for the same missing key
    may both compute it; the results are equal (routing caches only pure functions of the key),
    and the later one wins. That trade keeps slow builds from blocking every other lookup.
    """

    __slots__ = ("_entries", "_lock", "capacity", "hits", "misses")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[_K, _V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: _K) -> _V | None:
        """The value for ``key`` (marking it recently used), or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
                self._entries.move_to_end(key)
            return value

    def put(self, key: _K, value: _V) -> None:
        """Store ``value`` under ``key``, evicting the least recently used entries if full."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def get_or_build(self, key: _K, build: Callable[[], _V]) -> _V:
        """The cached value for ``key``, building and storing it on a miss."""
        value = self.get(key)
        if value is None:
            value = build()
            self.put(key, value)
        return value

    def clear(self) -> None:
        """Drop every entry (counters are kept)."""
        with self._lock:
            self._entries.clear()
