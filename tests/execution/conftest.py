"""Shared fixtures of the execution tests."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from suanwang.execution import LocalRayCluster

RAY_NODES = ("e1", "e2", "c1", "c2")
"""The suanwang nodes of the test cluster: one Ray node each (a head and three workers)."""


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[LocalRayCluster]:
    """A 1 head + 3 worker Ray cluster on loopback, connected, one per test module."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("the Ray engine needs the ray extra")
    cluster = LocalRayCluster([[node] for node in RAY_NODES], cpus_per_node=1, object_store_mb=80)
    cluster.start()
    try:
        cluster.connect()
        yield cluster
    finally:
        cluster.shutdown()
