"""Which tenant holds each leased node: what the ``leases`` filter reads on every cycle.

The market binds whole nodes to a tenant for the time of a lease (``market.store``); the control
plane copies the active leases here (``NodeLeases.replace``) whenever one starts or ends. Reads
happen on the writer thread, writes from API threads: each write swaps in a new mapping and
bumps the version, so a reader sees one whole mapping and its masks are cached per version.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

_MASKS_KEPT = 64


class NodeLeases:
    """Node id -> tenant for every node under an active lease."""

    def __init__(self, holders: Mapping[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._holders: dict[str, str] = dict(holders or {})
        self._version = 0
        self._masks: dict[tuple[int, int, str], tuple[npt.NDArray[np.bool_], ...]] = {}

    def replace(self, holders: Mapping[str, str]) -> None:
        """Make ``holders`` (node id -> tenant) the whole set of leased nodes."""
        fresh = dict(holders)
        with self._lock:
            self._holders = fresh
            self._version += 1
            self._masks = {}

    def holders(self) -> dict[str, str]:
        """A copy of the mapping: node id -> tenant."""
        return dict(self._holders)

    @property
    def version(self) -> int:
        """Bumped by every ``replace``."""
        return self._version

    def tenant_of(self, node_id: str) -> str | None:
        """The tenant leasing ``node_id``, or None if it is not leased."""
        return self._holders.get(node_id)

    def masks(
        self, node_ids: tuple[str, ...], tenant: str
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """(leased to another tenant, leased to ``tenant``) over ``node_ids``, cached."""
        with self._lock:
            holders, version = self._holders, self._version
            key = (version, id(node_ids), tenant)
            found = self._masks.get(key)
        if found is None:
            held = [holders.get(node) for node in node_ids]
            own = np.array([h == tenant for h in held], dtype=bool)
            others = np.array([h is not None and h != tenant for h in held], dtype=bool)
            own.flags.writeable = others.flags.writeable = False
            found = (others, own)
            with self._lock:
                if self._version == version:
                    if len(self._masks) >= _MASKS_KEPT:
                        self._masks.clear()
                    self._masks[key] = found
        return found[0], found[1]
