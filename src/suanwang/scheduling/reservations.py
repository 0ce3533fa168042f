"""The reservation ledger: compute held on nodes and bandwidth held on links, per task.

Every placement reserves CPU cores, memory and accelerator devices on its node and bandwidth on
every link of its path when it is bound, and gives them back when the task completes, is
cancelled or fails. The ledger keeps the sums in numpy arrays (so free capacity is one
subtraction per cycle) and refuses any reservation that would over-commit a node or a link: the
invariant "reserved <= capacity" holds after every call, whatever the order of calls.

Both ``reserve`` and ``release`` are idempotent per task id, so a retried bind or a duplicate
completion event cannot count twice.

The ledger also counts, per link, the runs still moving their input over it (``link_flows``):
a run with a path counts from ``input_moving`` (the controller started it on the engine) until
``input_arrived`` (the engine reported it started) or ``release``. Links are shared by their
flows, so a new task's transfer rate depends on how many are there (``shared_rate_mbps``), not
only on what is reserved. Planners that place without running (a batch, a plan) move no
input, so they count no flow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from suanwang.model import ACCELERATOR_KINDS, AcceleratorKind, TaskSpec, TopologyArrays
from suanwang.model.topology import FloatArray

# Reserving exactly the free capacity must succeed despite float rounding in the sums.
_SLACK = 1e-9


_SUMS = ("cpu_cores", "mem_gib", "accelerators", "link_mbps", "link_flows")
"""The per-node and per-link arrays a copy of the ledger takes."""


class OverCommitError(ValueError):
    """A reservation would hold more than a node or a link has."""


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one task holds.

    Attributes:
        task_id: The task.
        node: Node index (in ``TopologyArrays.node_ids`` order).
        cpu_cores: Cores held on the node.
        mem_gib: Memory held on the node.
        accelerator_kind: Kind of devices held, or None.
        accelerator_count: Devices held.
        links: Link indexes of the path (in ``TopologyArrays.link_ids`` order).
        bandwidth_mbps: Bandwidth held on each of ``links``.
    """

    task_id: str
    node: int
    cpu_cores: float
    mem_gib: float
    accelerator_kind: AcceleratorKind | None = None
    accelerator_count: int = 0
    links: tuple[int, ...] = ()
    bandwidth_mbps: float = 0.0

    @classmethod
    def of(
        cls,
        task_id: str,
        node: int,
        spec: TaskSpec,
        links: tuple[int, ...] = (),
        bandwidth_mbps: float = 0.0,
    ) -> Reservation:
        """What ``spec`` holds on node index ``node`` and, at ``bandwidth_mbps``, on ``links``.

        The one constructor the online Reserve point and the batch planners share, so that a
        task holds the same whichever way it was placed.
        """
        need = spec.accelerator
        return cls(
            task_id,
            node,
            spec.cpu_cores,
            spec.mem_gib,
            None if need is None else need.kind,
            0 if need is None else need.count,
            links,
            bandwidth_mbps,
        )


class Reservations:
    """Reserved compute per node and bandwidth per link, for one topology's arrays.

    The sums are public arrays for reading; only ``reserve`` and ``release`` change them, and
    ``input_moving`` and ``input_arrived`` the flow counts.
    The free capacity (``free_cpu_cores``, ``free_mem_gib``, ``free_accelerators_of``,
    ``residual_mbps``) is kept up to date by ``reserve`` and ``release`` at the entries they
    change (the same subtraction as over the whole array, so the figures are bit for bit the
    ones a fresh subtraction gives) and handed out as read-only arrays. ``version`` changes at
    every change of any sum or flow count: equal versions mean an equal ledger.
    ``link_version`` names the current ``link_mbps``: equal versions mean equal fills. It is 0
    while the ledger has held nothing since it was made or last emptied (every fill zero), and
    takes a new number at every other change of ``link_mbps``. Figures derived from the residual
    bandwidth (path bottlenecks) can so be kept while it stays the same: most tasks move no
    data, and a ledger that empties returns to version 0. ``flow_version`` does the same for
    ``link_flows`` (0 while no run is moving input).

    Args:
        arrays: Capacities come from here (cores, memory, devices per kind, link bandwidth).
    """

    def __init__(self, arrays: TopologyArrays) -> None:
        self._arrays = arrays
        n_nodes, n_links = len(arrays.node_ids), len(arrays.link_ids)
        self.cpu_cores: FloatArray = np.zeros(n_nodes)
        self.mem_gib: FloatArray = np.zeros(n_nodes)
        self.accelerators: FloatArray = np.zeros((n_nodes, len(ACCELERATOR_KINDS)))
        self.link_mbps: FloatArray = np.zeros(n_links)
        self.link_version = 0
        self._link_fills = 0
        self.link_flows: FloatArray = np.zeros(n_links)
        self.flow_version = 0
        self._flow_changes = 0
        self._held: dict[str, Reservation] = {}
        self._moving: set[str] = set()
        self._changes = 0
        self._free: dict[object, FloatArray] = {}
        self._free_views: dict[object, FloatArray] = {}
        self._frozen: Reservations | None = None
        self._dirty: set[str] = set()  # sums changed since ``_frozen`` was taken

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._held

    def __len__(self) -> int:
        return len(self._held)

    def held(self, task_id: str) -> Reservation | None:
        """The reservation of ``task_id``, if it holds one."""
        return self._held.get(task_id)

    @property
    def version(self) -> int:
        """A number that changes with every change of the sums or the flow counts."""
        return self._changes

    def _kept(self, key: object, build: FloatArray) -> FloatArray:
        """``build`` kept under ``key`` and updated entry by entry; a read-only view of it."""
        view = build.view()
        view.flags.writeable = False
        self._free[key] = build
        self._free_views[key] = view
        return view

    def free_cpu_cores(self) -> FloatArray:
        """Cores not reserved, per node (read-only; kept up to date, see the class)."""
        free = self._free_views.get("cpu")
        if free is None:
            free = self._kept("cpu", self._arrays.node_cpu_cores - self.cpu_cores)
        return free

    def free_mem_gib(self) -> FloatArray:
        """Memory not reserved, per node (read-only; kept up to date, see the class)."""
        free = self._free_views.get("mem")
        if free is None:
            free = self._kept("mem", self._arrays.node_mem_gib - self.mem_gib)
        return free

    def free_accelerators(self) -> FloatArray:
        """Devices not reserved, per node and kind (shape ``(nodes, kinds)``)."""
        return self._arrays.node_accel_count - self.accelerators

    def free_accelerators_of(self, kind: int) -> FloatArray:
        """Devices of kind index ``kind`` not reserved, per node (read-only, kept up to date)."""
        free = self._free_views.get(kind)
        if free is None:
            have = self._arrays.node_accel_count[:, kind]
            free = self._kept(kind, have - self.accelerators[:, kind])
        return free

    def residual_mbps(self) -> FloatArray:
        """Bandwidth not reserved, per link (read-only; kept up to date, see the class)."""
        free = self._free_views.get("link")
        if free is None:
            free = self._kept("link", self._arrays.link_bandwidth_mbps - self.link_mbps)
        return free

    def shared_rate_mbps(self, bandwidth_mbps: float) -> FloatArray:
        """Per link, the rate a new flow reserving ``bandwidth_mbps`` there would move data at.

        Its reservation plus an equal share of the spare bandwidth with the flows already moving
        input over the link (``b + (residual - b) / (flows + 1)``): the residual where no flow
        is, and below ``b`` exactly where the residual is.
        """
        spare = self.residual_mbps() - bandwidth_mbps
        return bandwidth_mbps + spare / (self.link_flows + 1.0)

    def frozen_copy(self) -> Reservations:
        """A read-only copy of the sums as they are now (holds no per-task records).

        One copy is shared by every call until the ledger next changes (``version``), and the
        next copy shares the arrays that did not change since: refusals under load freeze the
        ledger by the thousand, most reservations changing a few of its sums.
        """
        frozen = self._frozen
        if frozen is not None and frozen._changes == self._changes:
            return frozen
        copy = Reservations(self._arrays)
        for name in _SUMS:
            if frozen is not None and name not in self._dirty:
                array = getattr(frozen, name)  # unchanged since: the read-only copy is shared
            else:
                array = getattr(self, name).copy()
                array.flags.writeable = False
            setattr(copy, name, array)
        self._dirty.clear()
        copy.link_version, copy._link_fills = self.link_version, self._link_fills
        copy.flow_version, copy._flow_changes = self.flow_version, self._flow_changes
        copy._changes = self._changes
        self._frozen = copy
        return copy

    def copy_without(self, task_ids: Iterable[str]) -> Reservations:
        """A writable copy, per-task records included, with ``task_ids``' holds given back.

        For asking where a task would go were its own hold not there (an explanation of a
        placed task) without touching this ledger. Ids that hold nothing are skipped.
        """
        copy = Reservations(self._arrays)
        for name in _SUMS:
            setattr(copy, name, getattr(self, name).copy())
        copy.link_version, copy._link_fills = self.link_version, self._link_fills
        copy.flow_version, copy._flow_changes = self.flow_version, self._flow_changes
        copy._changes = self._changes
        copy._held, copy._moving = dict(self._held), set(self._moving)
        for task_id in task_ids:
            copy.release(task_id)
        return copy

    def carried_to(self, arrays: TopologyArrays) -> Reservations:
        """A writable ledger over ``arrays`` holding every reservation this one holds.

        For a topology that grew: ``arrays`` lists this ledger's nodes and links first, in the
        same order, then the new ones (so the indexes held stay right).

        Raises:
            ValueError: ``arrays`` does not start with this ledger's nodes and links.
        """
        old = self._arrays
        n_nodes, n_links = len(old.node_ids), len(old.link_ids)
        if tuple(arrays.node_ids[:n_nodes]) != tuple(old.node_ids) or tuple(
            arrays.link_ids[:n_links]
        ) != tuple(old.link_ids):
            raise ValueError("the new topology does not extend the ledger's one")
        carried = Reservations(arrays)
        for reservation in self._held.values():
            carried._held[reservation.task_id] = reservation
            carried._apply(reservation, +1.0)
        for task_id in self._moving:
            carried.input_moving(task_id)
        return carried

    def reserve(self, reservation: Reservation) -> bool:
        """Hold ``reservation``; True if newly held, False if this task already holds one.

        Raises:
            OverCommitError: the node or a link lacks the capacity; nothing is changed.
        """
        held = self._held.get(reservation.task_id)
        if held is not None:
            if held != reservation:
                raise OverCommitError(
                    f"task {reservation.task_id!r} already holds a different reservation"
                )
            return False
        self._check(reservation)
        self._apply(reservation, +1.0)
        self._held[reservation.task_id] = reservation
        return True

    def input_moving(self, task_id: str) -> None:
        """``task_id`` started moving its input over its path's links (a no-op without one)."""
        held = self._held.get(task_id)
        if held is not None and held.links and task_id not in self._moving:
            self._moving.add(task_id)
            self._count_flow(held.links, +1.0)

    def input_arrived(self, task_id: str) -> None:
        """``task_id``'s input is in: it no longer shares its links (a no-op otherwise)."""
        if task_id in self._moving:
            self._moving.discard(task_id)
            self._count_flow(self._held[task_id].links, -1.0)

    def release(self, task_id: str) -> Reservation | None:
        """Give back what ``task_id`` holds; None when it holds nothing (a no-op)."""
        self.input_arrived(task_id)
        reservation = self._held.pop(task_id, None)
        if reservation is not None:
            self._apply(reservation, -1.0)
        return reservation

    def _count_flow(self, links: tuple[int, ...], sign: float) -> None:
        for link in links:  # a path has few links: no numpy call
            self.link_flows[link] += sign
        self._changes += 1
        self._dirty.add("link_flows")
        if self._moving:
            self._flow_changes += 1
            self.flow_version = self._flow_changes
        else:  # no flow left: every count is exactly zero again
            self.link_flows.fill(0.0)
            self.flow_version = 0

    def _check(self, r: Reservation) -> None:
        arrays = self._arrays
        node_id = arrays.node_ids[r.node]
        if r.cpu_cores > arrays.node_cpu_cores[r.node] - self.cpu_cores[r.node] + _SLACK:
            raise OverCommitError(f"node {node_id!r} lacks {r.cpu_cores} free cores")
        if r.mem_gib > arrays.node_mem_gib[r.node] - self.mem_gib[r.node] + _SLACK:
            raise OverCommitError(f"node {node_id!r} lacks {r.mem_gib} GiB free memory")
        if r.accelerator_kind is not None and r.accelerator_count:
            k = ACCELERATOR_KINDS.index(r.accelerator_kind)
            free = arrays.node_accel_count[r.node, k] - self.accelerators[r.node, k]
            if r.accelerator_count > free + _SLACK:
                raise OverCommitError(
                    f"node {node_id!r} lacks {r.accelerator_count} free {r.accelerator_kind}"
                )
        if r.bandwidth_mbps > 0 and r.links:
            if len(set(r.links)) != len(r.links):
                raise OverCommitError("a path may not use one link twice")
            # A path has a few links: a Python loop costs less than numpy calls on them.
            capacity, held = arrays.link_bandwidth_mbps, self.link_mbps
            for link in r.links:
                if capacity[link] - held[link] + _SLACK < r.bandwidth_mbps:
                    link_id = arrays.link_ids[int(link)]
                    raise OverCommitError(f"link {link_id!r} lacks {r.bandwidth_mbps} Mbps")

    def _apply(self, r: Reservation, sign: float) -> None:
        arrays, free, node, dirty = self._arrays, self._free, r.node, self._dirty
        self._changes += 1
        dirty.add("cpu_cores")
        dirty.add("mem_gib")
        self.cpu_cores[node] += sign * r.cpu_cores
        self.mem_gib[node] += sign * r.mem_gib
        # The kept free figures, entry by entry, with the subtraction a fresh array would make.
        if (cpu := free.get("cpu")) is not None:
            cpu[node] = arrays.node_cpu_cores[node] - self.cpu_cores[node]
        if (mem := free.get("mem")) is not None:
            mem[node] = arrays.node_mem_gib[node] - self.mem_gib[node]
        if r.accelerator_kind is not None and r.accelerator_count:
            k = ACCELERATOR_KINDS.index(r.accelerator_kind)
            self.accelerators[node, k] += sign * r.accelerator_count
            dirty.add("accelerators")
            if (devices := free.get(k)) is not None:
                devices[node] = arrays.node_accel_count[node, k] - self.accelerators[node, k]
        if r.bandwidth_mbps > 0 and r.links:
            change = sign * r.bandwidth_mbps
            residual = free.get("link")
            dirty.add("link_mbps")
            for link in r.links:  # distinct links (``_check``); few, so no numpy call
                self.link_mbps[link] += change
                if residual is not None:
                    residual[link] = arrays.link_bandwidth_mbps[link] - self.link_mbps[link]
            self._link_fills += 1
            self.link_version = self._link_fills
        if sign < 0 and not self._held:
            # With nothing held, the sums are exactly zero; clear float residue from +/-.
            for array in (self.cpu_cores, self.mem_gib, self.accelerators, self.link_mbps):
                array.fill(0.0)
            dirty.update(("accelerators", "link_mbps"))
            self.link_version = 0
            free.clear()  # rebuilt from the zeroed sums when next asked for
            self._free_views.clear()
