"""What the slice core's running tasks hold, counted in Python and handed to the ledger in bulk.

A reservation per task through ``Reservations`` costs several numpy scalar updates each way,
which profiles showed to be the largest part of slice mode's time per task. ``Book`` keeps the
same sums (cores, memory and devices per node, reserved bandwidth per link) in Python lists,
checks each placement against the capacities exactly as ``Reservations`` does, and ``sync``
writes them to the ledger as one aggregate reservation per node and device kind and one per
link, rewriting only what changed since the last sync. The profile's plugins read only the
ledger's sums, so a ranking made after ``sync`` sees what per-task reservations would show.
"""

from __future__ import annotations

from suanwang.model import ACCELERATOR_KINDS
from suanwang.scheduling import ClusterState
from suanwang.scheduling.reservations import Reservation

_SLACK = 1e-9  # the ledger's: float residue of sums never refuses a fit

Need = tuple[float, float, int, float]
"""What one task of a demand holds: cores, GiB, device kind index (-1: none), devices."""


class Book:
    """The slice core's holdings and their aggregate reservations (module docstring).

    Args:
        state: The scheduling state whose ledger receives the aggregates.
    """

    def __init__(self, state: ClusterState) -> None:
        arrays = state.arrays
        self.state = state
        self._ledger = state.reservations
        self.cap_cores: list[float] = arrays.node_cpu_cores.tolist()
        self.cap_mem: list[float] = arrays.node_mem_gib.tolist()
        self.cap_devices: list[list[float]] = arrays.node_accel_count.T.tolist()
        self.cap_link: list[float] = arrays.link_bandwidth_mbps.tolist()
        n = len(self.cap_cores)
        self.cores = [0.0] * n
        self.mem = [0.0] * n
        self.devices = [[0.0] * n for _ in ACCELERATOR_KINDS]
        self.link = [0.0] * len(self.cap_link)
        self._dirty_nodes: set[int] = set()
        self._dirty_links: set[int] = set()

    def fits(self, node: int, need: Need, links: tuple[int, ...], mbps: float) -> bool:
        """Whether ``need`` (cores, GiB, device kind or -1, devices) and ``mbps`` fit now."""
        cores, mem, kind, count = need
        if kind >= 0 and self.devices[kind][node] + count > self.cap_devices[kind][node] + _SLACK:
            return False
        if self.cores[node] + cores > self.cap_cores[node] + _SLACK:
            return False
        if self.mem[node] + mem > self.cap_mem[node] + _SLACK:
            return False
        if mbps > 0:
            held, cap = self.link, self.cap_link
            for link in links:
                if held[link] + mbps > cap[link] + _SLACK:
                    return False
        return True

    def hold(
        self,
        node: int,
        need: Need,
        links: tuple[int, ...],
        mbps: float,
        sign: float = 1.0,
    ) -> None:
        """Add (``sign`` 1) or give back (-1) one task's holding."""
        cores, mem, kind, count = need
        self.cores[node] += sign * cores
        self.mem[node] += sign * mem
        if kind >= 0:
            self.devices[kind][node] += sign * count
        self._dirty_nodes.add(node)
        if mbps > 0:
            for link in links:
                self.link[link] += sign * mbps
            self._dirty_links.update(links)

    def sync(self) -> None:
        """Write what changed since the last sync to the ledger as aggregate reservations."""
        ledger = self._ledger
        for node in self._dirty_nodes:
            cores = _clamp(self.cores[node], self.cap_cores[node])
            mem = _clamp(self.mem[node], self.cap_mem[node])
            for kind, name in enumerate(ACCELERATOR_KINDS):
                ledger.release(f"book:n{node}:{kind}")
                count = round(_clamp(self.devices[kind][node], self.cap_devices[kind][node]))
                if count or (kind == 0 and (cores or mem)):
                    ledger.reserve(
                        Reservation(
                            f"book:n{node}:{kind}",
                            node,
                            cores if kind == 0 else 0.0,
                            mem if kind == 0 else 0.0,
                            name if count else None,
                            count,
                        )
                    )
        for link in self._dirty_links:
            ledger.release(f"book:l{link}")
            mbps = _clamp(self.link[link], self.cap_link[link])
            if mbps:
                ledger.reserve(Reservation(f"book:l{link}", 0, 0.0, 0.0, None, 0, (link,), mbps))
        self._dirty_nodes.clear()
        self._dirty_links.clear()


def _clamp(value: float, cap: float) -> float:
    """A sum with its float residue removed: 0 when about 0, at most ``cap``."""
    if value < 1e-6:
        return 0.0
    return min(value, cap)
