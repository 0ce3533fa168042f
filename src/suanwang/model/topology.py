"""The topology: sites, nodes, network elements and links, with array indexes for algorithms."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

from suanwang.model.dataset import Dataset
from suanwang.model.enums import AcceleratorKind, Precision
from suanwang.model.link import Link, NetworkElement
from suanwang.model.node import Node
from suanwang.model.policy import DataPolicy
from suanwang.model.site import Site

Record: TypeAlias = Site | Node | NetworkElement | Link
FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int32]
_R = TypeVar("_R", Site, Node, NetworkElement, Link, Dataset)

PRECISIONS: tuple[Precision, ...] = tuple(Precision)
ACCELERATOR_KINDS: tuple[AcceleratorKind, ...] = tuple(AcceleratorKind)

# Versions come from one process-wide counter, so two topologies derived from the same parent
# never share a version and a cache keyed on the version can never serve the wrong one.
_versions = itertools.count(1)


class TopologyError(ValueError):
    """A topology is inconsistent: a duplicate id, a dangling reference, an unknown id.

    Attributes:
        kind: What was wrong, one of ``duplicate``, ``unknown``, ``in-use``.
        record_id: Id of the offending record.
    """

    def __init__(self, kind: str, record_id: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.record_id = record_id


@dataclass(frozen=True, slots=True)
class TopologyArrays:
    """Array view of a topology for vectorised algorithms (routing, scheduling, the twin).

    Vertices of the routing graph are the sites followed by the network elements; every array
    below is indexed by position in ``vertex_ids``, ``node_ids`` or ``link_ids``. Arrays are
    read-only; they are built once per topology version.
    """

    vertex_ids: tuple[str, ...]
    vertex_is_site: npt.NDArray[np.bool_]
    vertex_tier_rank: IntArray
    """Tier rank of each vertex (see ``Tier.rank``); -1 for network elements."""
    node_ids: tuple[str, ...]
    node_vertex: IntArray
    """Vertex index of each node's site."""
    node_cpu_cores: FloatArray
    node_mem_gib: FloatArray
    node_trust_level: IntArray
    node_price_per_hour: FloatArray
    node_idle_power_w: FloatArray
    node_peak_power_w: FloatArray
    node_cpu_peak_gflops: FloatArray
    """Shape (nodes, len(PRECISIONS)): CPU peak rate per precision."""
    node_accel_count: IntArray
    """Shape (nodes, len(ACCELERATOR_KINDS)): device count per accelerator kind."""
    node_accel_peak_gflops: FloatArray
    """Shape (nodes, len(ACCELERATOR_KINDS), len(PRECISIONS)): all devices of a kind together."""
    link_ids: tuple[str, ...]
    link_a: IntArray
    link_b: IntArray
    link_bandwidth_mbps: FloatArray
    link_latency_ms: FloatArray
    link_loss_ratio: FloatArray
    link_cost_per_gb: FloatArray


def _readonly(array: npt.NDArray[np.generic]) -> None:
    array.flags.writeable = False


class Topology:
    """Sites, nodes, network elements and links of one computing force network.

    A topology never changes in place: ``updated`` and ``removed`` return a new topology with a
    new ``version``, so a cache keyed on ``version`` (shortest paths, arrays) stays valid for as
    long as its topology lives. Records keep their insertion order, which fixes the array order.

    ``data_policies`` (tag -> ``DataPolicy``) are the operator's rules on where tagged data may
    be processed. They travel with the topology, which they constrain, so that every cycle built
    on it (online, batch, explain, the twin) enforces them without being told separately.
    ``datasets`` (id -> ``Dataset``) travel with it for the same reason: every cycle estimates
    reading a task's input datasets from their replicas' sites.

    Raises:
        TopologyError: on construction when ids repeat (sites and network elements share one
            namespace, being vertices of one graph; or two data policies share a tag), when a
            node names an unknown site, or a link or element an unknown vertex; when a
            dataset id repeats or a replica names an unknown site (``unknown``), or a site's
            replicas exceed its ``storage_gb`` (kind ``storage``, the site's id).
    """

    __slots__ = (
        "_arrays",
        "data_policies",
        "datasets",
        "elements",
        "links",
        "nodes",
        "sites",
        "version",
    )

    def __init__(
        self,
        sites: Iterable[Site] = (),
        nodes: Iterable[Node] = (),
        elements: Iterable[NetworkElement] = (),
        links: Iterable[Link] = (),
        data_policies: Iterable[DataPolicy] = (),
        *,
        datasets: Iterable[Dataset] = (),
    ) -> None:
        self.sites: Mapping[str, Site] = _index("site", sites)
        self.elements: Mapping[str, NetworkElement] = _index("network element", elements)
        self.nodes: Mapping[str, Node] = _index("node", nodes)
        self.links: Mapping[str, Link] = _index("link", links)
        policies: dict[str, DataPolicy] = {}
        for policy in data_policies:
            if policy.tag in policies:
                raise TopologyError(
                    "duplicate", policy.tag, f"duplicate data policy for tag {policy.tag!r}"
                )
            policies[policy.tag] = policy
        self.data_policies: Mapping[str, DataPolicy] = policies
        self.datasets: Mapping[str, Dataset] = _index("dataset", datasets)
        self.version: int = next(_versions)
        self._arrays: TopologyArrays | None = None
        self._check_references()

    def _check_references(self) -> None:
        for element_id in self.elements:
            if element_id in self.sites:
                raise TopologyError(
                    "duplicate", element_id, f"id {element_id!r} names both a site and an element"
                )
        for element in self.elements.values():
            if element.site_id is not None and element.site_id not in self.sites:
                raise TopologyError(
                    "unknown",
                    element.site_id,
                    f"network element {element.id!r} names unknown site {element.site_id!r}",
                )
        for node in self.nodes.values():
            if node.site_id not in self.sites:
                raise TopologyError(
                    "unknown", node.site_id, f"node {node.id!r} names unknown site {node.site_id!r}"
                )
        for link in self.links.values():
            for end in (link.a, link.b):
                if end not in self.sites and end not in self.elements:
                    raise TopologyError(
                        "unknown",
                        end,
                        f"link {link.id!r} names unknown site or network element {end!r}",
                    )
        self._check_datasets()

    def _check_datasets(self) -> None:
        held_gb: dict[str, float] = {}  # one pass over the replicas, not sites x datasets
        for dataset in self.datasets.values():
            for site_id in dataset.sites:
                if site_id not in self.sites:
                    raise TopologyError(
                        "unknown", site_id, f"dataset {dataset.id!r} names unknown site {site_id!r}"
                    )
                held_gb[site_id] = held_gb.get(site_id, 0.0) + dataset.size_gb
        for site_id, held in held_gb.items():
            site = self.sites[site_id]
            if site.storage_gb is not None and held > site.storage_gb + 1e-9:
                raise TopologyError(
                    "storage",
                    site.id,
                    f"site {site.id!r}: dataset replicas take {held:g} GB, more than its "
                    f"storage_gb {site.storage_gb:g}",
                )

    def __repr__(self) -> str:
        return (
            f"Topology(version={self.version}, sites={len(self.sites)}, nodes={len(self.nodes)}, "
            f"elements={len(self.elements)}, links={len(self.links)})"
        )

    def __eq__(self, other: object) -> bool:
        """Equal when the records are equal and in the same order; the version is ignored."""
        if not isinstance(other, Topology):
            return NotImplemented
        if self.datasets != other.datasets:
            return False
        return self.data_policies == other.data_policies and all(
            list(mine.items()) == list(theirs.items())
            for mine, theirs in (
                (self.sites, other.sites),
                (self.nodes, other.nodes),
                (self.elements, other.elements),
                (self.links, other.links),
            )
        )

    __hash__ = None  # type: ignore[assignment]  # equal topologies differ in version

    def updated(self, *records: Record) -> Topology:
        """A new topology with ``records`` added, or replacing the records of the same id."""
        buckets: dict[type, dict[str, Record]] = {
            Site: dict(self.sites),
            Node: dict(self.nodes),
            NetworkElement: dict(self.elements),
            Link: dict(self.links),
        }
        for record in records:
            buckets[type(record)][record.id] = record
        return self._from_buckets(buckets)

    def removed(self, *record_ids: str) -> Topology:
        """A new topology without the records of these ids.

        Raises:
            TopologyError: an id names no record, or a record still in use (a site with nodes,
                a vertex with links).
        """
        buckets: dict[type, dict[str, Record]] = {
            Site: dict(self.sites),
            Node: dict(self.nodes),
            NetworkElement: dict(self.elements),
            Link: dict(self.links),
        }
        for record_id in record_ids:
            for bucket in buckets.values():
                if record_id in bucket:
                    del bucket[record_id]
                    break
            else:
                raise TopologyError("unknown", record_id, f"no record has id {record_id!r}")
        try:
            return self._from_buckets(buckets)
        except TopologyError as error:
            raise TopologyError(
                "in-use", error.record_id, f"cannot remove {error.record_id!r}: {error}"
            ) from error

    def _from_buckets(self, buckets: Mapping[type, Mapping[str, Record]]) -> Topology:
        return Topology(
            sites=buckets[Site].values(),  # type: ignore[arg-type]
            nodes=buckets[Node].values(),  # type: ignore[arg-type]
            elements=buckets[NetworkElement].values(),  # type: ignore[arg-type]
            links=buckets[Link].values(),  # type: ignore[arg-type]
            data_policies=self.data_policies.values(),
            datasets=self.datasets.values(),
        )

    def nodes_at(self, site_id: str) -> list[Node]:
        """Nodes standing in site ``site_id`` (a linear scan; use ``arrays`` in hot paths)."""
        return [node for node in self.nodes.values() if node.site_id == site_id]

    @property
    def arrays(self) -> TopologyArrays:
        """The array view, built on first use and kept for the life of this version."""
        if self._arrays is None:
            self._arrays = _build_arrays(self)
        return self._arrays


def _index(what: str, records: Iterable[_R]) -> dict[str, _R]:
    index: dict[str, _R] = {}
    for record in records:
        if record.id in index:
            raise TopologyError("duplicate", record.id, f"duplicate {what} id {record.id!r}")
        index[record.id] = record
    return index


def _build_arrays(topology: Topology) -> TopologyArrays:
    sites, elements = topology.sites, topology.elements
    vertex_ids = (*sites, *elements)
    vertex_index = {vertex_id: i for i, vertex_id in enumerate(vertex_ids)}
    tier_rank = [site.tier.rank for site in sites.values()] + [-1] * len(elements)
    nodes = list(topology.nodes.values())
    n_nodes = len(nodes)
    cpu_gflops = np.zeros((n_nodes, len(PRECISIONS)))
    accel_count = np.zeros((n_nodes, len(ACCELERATOR_KINDS)), dtype=np.int32)
    accel_gflops = np.zeros((n_nodes, len(ACCELERATOR_KINDS), len(PRECISIONS)))
    precision_index = {p: i for i, p in enumerate(PRECISIONS)}
    kind_index = {k: i for i, k in enumerate(ACCELERATOR_KINDS)}
    for row, node in enumerate(nodes):
        for precision, rate in node.cpu_peak_gflops.items():
            cpu_gflops[row, precision_index[precision]] = rate
        for accelerator in node.accelerators:
            k = kind_index[accelerator.kind]
            accel_count[row, k] += accelerator.count
            for precision, rate in accelerator.peak_gflops.items():
                accel_gflops[row, k, precision_index[precision]] += rate * accelerator.count
    links = list(topology.links.values())
    arrays = TopologyArrays(
        vertex_ids=vertex_ids,
        vertex_is_site=np.arange(len(vertex_ids)) < len(sites),
        vertex_tier_rank=np.asarray(tier_rank, dtype=np.int32),
        node_ids=tuple(topology.nodes),
        node_vertex=np.fromiter((vertex_index[n.site_id] for n in nodes), np.int32, n_nodes),
        node_cpu_cores=np.fromiter((n.cpu_cores for n in nodes), np.float64, n_nodes),
        node_mem_gib=np.fromiter((n.mem_gib for n in nodes), np.float64, n_nodes),
        node_trust_level=np.fromiter((n.trust_level for n in nodes), np.int32, n_nodes),
        node_price_per_hour=np.fromiter((n.price_per_hour for n in nodes), np.float64, n_nodes),
        node_idle_power_w=np.fromiter((n.idle_power_w for n in nodes), np.float64, n_nodes),
        node_peak_power_w=np.fromiter((n.peak_power_w for n in nodes), np.float64, n_nodes),
        node_cpu_peak_gflops=cpu_gflops,
        node_accel_count=accel_count,
        node_accel_peak_gflops=accel_gflops,
        link_ids=tuple(topology.links),
        link_a=np.fromiter((vertex_index[k.a] for k in links), np.int32, len(links)),
        link_b=np.fromiter((vertex_index[k.b] for k in links), np.int32, len(links)),
        link_bandwidth_mbps=np.fromiter((k.bandwidth_mbps for k in links), np.float64, len(links)),
        link_latency_ms=np.fromiter((k.latency_ms for k in links), np.float64, len(links)),
        link_loss_ratio=np.fromiter((k.loss_ratio for k in links), np.float64, len(links)),
        link_cost_per_gb=np.fromiter((k.cost_per_gb for k in links), np.float64, len(links)),
    )
    for name in TopologyArrays.__slots__:
        value = getattr(arrays, name)
        if isinstance(value, np.ndarray):
            _readonly(value)
    return arrays
