"""A multi-node Ray cluster on this machine, for tests, benchmarks and demonstrations.

``LocalRayCluster`` starts ``ray.cluster_utils.Cluster`` nodes — the first is the head — on
loopback only, each advertising the ``suanwang-node:<id>`` resources of the suanwang nodes it
stands for, so that a ``RayEngine`` connected to ``address`` finds its node map by itself.

On one machine Ray must be kept on loopback (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` before
ray is first imported, and ``node_ip_address=127.0.0.1`` on every node); otherwise it may pick
another interface and retry its connection without end. Starting is bounded by
``start_timeout_s``, and a failed start removes every node it made.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from suanwang.execution.ray_support import LOOPBACK, import_ray, node_resource

MIB = 1024 * 1024


class LocalRayCluster:
    """Ray nodes on this machine, each standing for some suanwang nodes.

    Args:
        nodes: Per Ray node (the head first), the suanwang node ids it stands for.
        cpus_per_node: CPUs each Ray node offers.
        object_store_mb: Object store of each Ray node, in MiB.
        start_timeout_s: Longest ``start`` may take.

    Raises:
        RayUnavailableError: Ray is not installed.
        ValueError: No nodes, or a suanwang node given twice.
    """

    def __init__(
        self,
        nodes: Sequence[Sequence[str]],
        *,
        cpus_per_node: float = 1.0,
        object_store_mb: int = 80,
        start_timeout_s: float = 90.0,
    ) -> None:
        flat = [node for group in nodes for node in group]
        if not nodes or len(set(flat)) != len(flat):
            raise ValueError("give at least one Ray node, and each suanwang node once")
        self._ray = import_ray(loopback=True)
        self.nodes = tuple(tuple(group) for group in nodes)
        self.cpus_per_node = cpus_per_node
        self.object_store_mb = object_store_mb
        self.start_timeout_s = start_timeout_s
        self._cluster: Any = None
        self.node_map: dict[str, str] = {}
        """Suanwang node id -> Ray node id, once started."""

    @property
    def address(self) -> str:
        """The head's address (``host:port``) to connect to.

        Raises:
            RuntimeError: Not started.
        """
        if self._cluster is None:
            raise RuntimeError("the local Ray cluster is not started")
        return str(self._cluster.address)

    def start(self) -> str:
        """Start every node and wait until all are up; returns ``address``.

        Raises:
            TimeoutError: The nodes were not all up within ``start_timeout_s``.
        """
        cluster_utils = importlib.import_module("ray.cluster_utils")
        deadline = time.monotonic() + self.start_timeout_s
        self._cluster = cluster_utils.Cluster(initialize_head=False)
        try:
            for index, group in enumerate(self.nodes):
                options: dict[str, Any] = {
                    "num_cpus": self.cpus_per_node,
                    "node_ip_address": LOOPBACK,
                    "object_store_memory": self.object_store_mb * MIB,
                    "resources": {node_resource(node): 1.0 for node in group},
                }
                if index == 0:
                    options["include_dashboard"] = False
                ray_node = self._cluster.add_node(**options)
                self.node_map.update(dict.fromkeys(group, str(ray_node.node_id)))
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Ray nodes not up within {self.start_timeout_s:g} s")
            self._cluster.wait_for_nodes(timeout=max(deadline - time.monotonic(), 1.0))
        except BaseException:
            self.shutdown()
            raise
        return self.address

    def connect(self) -> None:
        """Connect this process to the cluster (engines made afterwards share the connection)."""
        if not self._ray.is_initialized():
            self._ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False)

    def shutdown(self) -> None:
        """Disconnect this process from Ray and remove every node (idempotent)."""
        if self._ray.is_initialized():
            self._ray.shutdown()
        if self._cluster is not None:
            self._cluster.shutdown()
            self._cluster = None
            self.node_map = {}

    def __enter__(self) -> LocalRayCluster:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()
