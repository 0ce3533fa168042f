"""The live topology: sites, nodes, links and services; nodes and links taken down and up."""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from suanwang.api.access import audit_read
from suanwang.api.auth import PEOPLE, STAFF, allow, keeps_node
from suanwang.api.deps import IdPath, PlaneDep, answer
from suanwang.api.etag import NOT_MODIFIED, conditional_json
from suanwang.api.problems import ApiError
from suanwang.api.topology import (
    LinkOut,
    NodeMetricsOut,
    NodeOut,
    NodeState,
    ServiceOut,
    SiteOut,
    State,
    StateChangeIn,
    StateChangeOut,
)
from suanwang.control.stores import Principal, Role
from suanwang.measure import CATEGORIES, l1_scores, l2_scores
from suanwang.model import ACCELERATOR_KINDS, AcceleratorKind, Tier
from suanwang.service import ControlPlane

router = APIRouter(tags=["network"])

People = Annotated[Principal, Depends(allow(*PEOPLE))]
Staff = Annotated[Principal, Depends(allow(*STAFF))]
NodeKeeper = Annotated[Principal, Depends(allow(Role.ADMIN, Role.OPERATOR, Role.PROVIDER))]
Limit = Annotated[int, Query(ge=1, le=100_000)]
Offset = Annotated[int, Query(ge=0)]


@router.get("/v1/sites", operation_id="listSites")
async def list_sites(
    plane: PlaneDep, _: People, tier: Tier | None = None, limit: Limit = 1000, offset: Offset = 0
) -> list[SiteOut]:
    """Sites of the live topology, in scenario order."""
    topology = plane.live.scenario.topology
    counts: dict[str, int] = {}
    for node in topology.nodes.values():
        counts[node.site_id] = counts.get(node.site_id, 0) + 1
    sites = [s for s in topology.sites.values() if tier is None or s.tier is tier]
    return [SiteOut.of(s, counts.get(s.id, 0)) for s in sites[offset : offset + limit]]


@router.get("/v1/sites/{site_id}", operation_id="getSite")
async def get_site(site_id: IdPath, plane: PlaneDep, _: People) -> SiteOut:
    """One site."""
    topology = plane.live.scenario.topology
    site = topology.sites.get(site_id)
    if site is None:
        raise ApiError(404, f"site {site_id!r} does not exist")
    return SiteOut.of(site, len(topology.nodes_at(site_id)))


@router.get("/v1/nodes", operation_id="listNodes")
async def list_nodes(
    plane: PlaneDep,
    _: People,
    site_id: Annotated[str | None, Query(max_length=255)] = None,
    state: NodeState | None = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[NodeOut]:
    """Nodes of the live topology with their state, in scenario order."""
    live = plane.live
    nodes = [
        NodeOut.of(n, live.node_state(n.id), _attested(plane, n.id))
        for n in live.scenario.topology.nodes.values()
        if (site_id is None or n.site_id == site_id)
        and (state is None or live.node_state(n.id) == state)
    ]
    return nodes[offset : offset + limit]


@router.get("/v1/nodes/{node_id}", operation_id="getNode")
async def get_node(node_id: IdPath, plane: PlaneDep, _: People) -> NodeOut:
    """One node with its state."""
    live = plane.live
    node = live.scenario.topology.nodes.get(node_id)
    if node is None:
        raise ApiError(404, f"node {node_id!r} does not exist")
    return NodeOut.of(node, live.node_state(node_id), _attested(plane, node_id))


def _attested(plane: ControlPlane, node_id: str) -> tuple[str, float | None]:
    standing = plane.attestor.view(node_id)
    return standing.trust.value, standing.measured_gflops


@router.get("/v1/nodes/{node_id}/metrics", operation_id="getNodeMetrics")
def get_node_metrics(
    node_id: IdPath, request: Request, plane: PlaneDep, who: NodeKeeper
) -> NodeMetricsOut:
    """The latest verified metrics its agent reported, and their age."""
    live = plane.live
    if node_id not in live.scenario.topology.nodes:
        raise ApiError(404, f"node {node_id!r} does not exist")
    if not keeps_node(who, node_id, live.scenario.topology.nodes[node_id].owner):
        raise ApiError(403, f"principal {who.id} does not keep node {node_id}")
    audit_read(
        request, who, f"node-metrics:{node_id}", [live.scenario.topology.nodes[node_id].owner]
    )
    with live.aggregator_lock:
        age_s = live.aggregator.age_s(node_id)
        values = live.aggregator.latest(node_id)
    return NodeMetricsOut(
        node_id=node_id, age_s=age_s if math.isfinite(age_s) else None, values=values
    )


class NodeLevelsOut(BaseModel):
    """A node's metrics at the three CATS levels: L0 values, L1 per category, one L2 score.

    Scores are 0..10 under the server's scoring configuration, before any staleness penalty;
    an L1 category without values is null, and L2 is 0 when nothing was reported.
    """

    node_id: str
    age_s: float | None
    l0: dict[str, float]
    l1: dict[str, float | None]
    l2: float


@router.get("/v1/nodes/{node_id}/levels", operation_id="getNodeLevels")
def get_node_levels(
    node_id: IdPath, request: Request, plane: PlaneDep, who: NodeKeeper
) -> NodeLevelsOut:
    """The latest verified metrics of a node with their L1 and L2 scores."""
    live = plane.live
    if node_id not in live.scenario.topology.nodes:
        raise ApiError(404, f"node {node_id!r} does not exist")
    if not keeps_node(who, node_id, live.scenario.topology.nodes[node_id].owner):
        raise ApiError(403, f"principal {who.id} does not keep node {node_id}")
    audit_read(
        request, who, f"node-levels:{node_id}", [live.scenario.topology.nodes[node_id].owner]
    )
    aggregator = live.aggregator
    with live.aggregator_lock:
        age_s = aggregator.age_s(node_id)
        values = aggregator.latest(node_id)
        names, config = aggregator.metric_types, aggregator.config
    row = [values.get(name, math.nan) for name in names]
    l1 = l1_scores(names, row, config)
    l2 = float(l2_scores(l1, config)[0])
    return NodeLevelsOut(
        node_id=node_id,
        age_s=age_s if math.isfinite(age_s) else None,
        l0=values,
        l1={
            str(c): None if math.isnan(v) else round(float(v), 3)
            for c, v in zip(CATEGORIES, l1[0], strict=True)
        },
        l2=round(l2, 3),
    )


def _keep(plane: PlaneDep, who: Principal, node_id: str) -> None:
    """Refuse (403) a principal that does not keep an existing node (``keeps_node``)."""
    node = plane.live.scenario.topology.nodes.get(node_id)
    if node is not None and not keeps_node(who, node_id, node.owner):
        raise ApiError(403, f"principal {who.id} does not keep node {node_id}")


async def _set_node(
    plane: PlaneDep, who: Principal, node_id: str, up: bool, why: str
) -> StateChangeOut:
    _keep(plane, who, node_id)
    moved = await answer(plane.set_node(who, node_id, up, why))
    return StateChangeOut(id=node_id, state="up" if up else "down", replaced_tasks=moved)


@router.post("/v1/nodes/{node_id}/down", operation_id="markNodeDown")
async def mark_node_down(
    node_id: IdPath, body: StateChangeIn, plane: PlaneDep, who: NodeKeeper
) -> StateChangeOut:
    """Take a node out of the pool; its tasks are placed again elsewhere."""
    return await _set_node(plane, who, node_id, False, body.reason)


@router.post("/v1/nodes/{node_id}/up", operation_id="markNodeUp")
async def mark_node_up(node_id: IdPath, plane: PlaneDep, who: NodeKeeper) -> StateChangeOut:
    """Return a node to the pool (this also ends a drain)."""
    return await _set_node(plane, who, node_id, True, "back up")


@router.post("/v1/nodes/{node_id}/drain", operation_id="drainNode")
async def drain_node(
    node_id: IdPath, body: StateChangeIn, plane: PlaneDep, who: NodeKeeper
) -> StateChangeOut:
    """Place nothing new on a node and move its long-running services off it without a break.

    Each long-running service gets a replacement elsewhere and is released here only once the
    replacement has started; batch tasks finish where they are. ``replaced_tasks`` counts the
    services that began to move. ``/up`` ends the drain.
    """
    _keep(plane, who, node_id)
    moved = await answer(plane.drain_node(who, node_id, body.reason))
    return StateChangeOut(id=node_id, state="draining", replaced_tasks=moved)


@router.get("/v1/links", operation_id="listLinks")
async def list_links(
    plane: PlaneDep, _: People, state: State | None = None, limit: Limit = 1000, offset: Offset = 0
) -> list[LinkOut]:
    """Links of the live topology with their state."""
    live = plane.live
    down = live.down_links
    links = [
        LinkOut.of(link, link.id in down)
        for link in live.scenario.topology.links.values()
        if state is None or (link.id in down) == (state == "down")
    ]
    return links[offset : offset + limit]


@router.get("/v1/links/{link_id}", operation_id="getLink")
async def get_link(link_id: IdPath, plane: PlaneDep, _: People) -> LinkOut:
    """One link with its state."""
    live = plane.live
    link = live.scenario.topology.links.get(link_id)
    if link is None:
        raise ApiError(404, f"link {link_id!r} does not exist")
    return LinkOut.of(link, link_id in live.down_links)


@router.post("/v1/links/{link_id}/down", operation_id="markLinkDown")
async def mark_link_down(
    link_id: IdPath, body: StateChangeIn, plane: PlaneDep, who: Staff
) -> StateChangeOut:
    """Take a link out of routing; tasks whose path uses it are placed again."""
    moved = await answer(plane.set_link(who, link_id, False, body.reason))
    return StateChangeOut(id=link_id, state="down", replaced_tasks=moved)


@router.post("/v1/links/{link_id}/up", operation_id="markLinkUp")
async def mark_link_up(link_id: IdPath, plane: PlaneDep, who: Staff) -> StateChangeOut:
    """Return a link to routing."""
    moved = await answer(plane.set_link(who, link_id, True, "back up"))
    return StateChangeOut(id=link_id, state="up", replaced_tasks=moved)


@router.get("/v1/services", operation_id="listServices")
async def list_services(plane: PlaneDep, _: People) -> list[ServiceOut]:
    """The service catalogue (CS-IDs) of the live scenario with its instances (CSCI-IDs)."""
    live = plane.live
    return [ServiceOut.of(s, live.node_state) for s in live.scenario.services]


@router.get("/v1/services/{service_id}", operation_id="getService")
async def get_service(service_id: IdPath, plane: PlaneDep, _: People) -> ServiceOut:
    """One service with its instances."""
    live = plane.live
    for service in live.scenario.services:
        if service.id == service_id:
            return ServiceOut.of(service, live.node_state)
    raise ApiError(404, f"service {service_id!r} does not exist")


class LoadOut(BaseModel):
    """What placements hold now, as parallel lists (compact for thousands of nodes).

    Shares are 0..1: reserved cores (or measured load where higher) and reserved memory per
    node, reserved bandwidth per link. ``accelerators_reserved`` holds, per accelerator kind
    some node of the topology has, the devices reserved on each node (their totals are in
    ``listNodes``). Down elements keep their figures; their state is in ``listNodes`` and
    ``listLinks``.
    """

    node_ids: list[str]
    cpu_utilisation: list[float]
    mem_utilisation: list[float]
    accelerators_reserved: dict[AcceleratorKind, list[int]]
    link_ids: list[str]
    link_utilisation: list[float]
    active_placements: int


@router.get("/v1/load", operation_id="getLoad", response_model=LoadOut, responses=NOT_MODIFIED)
def get_load(request: Request, plane: PlaneDep, _: People) -> Response:
    """Node and link load of the live topology, as the scheduler sees it now.

    With an ``ETag``: a poll sending it back in ``If-None-Match`` gets 304 while nothing changed.
    """
    state = plane.live.controller.state
    arrays = state.arrays
    # Copies: the writer thread updates the ledger in place; a view taken mid-update is at
    # worst one decision stale, which a reading for display tolerates.
    cpu = np.clip(state.cpu_utilisation(), 0.0, 1.0)
    mem = np.clip(state.mem_utilisation(), 0.0, 1.0)
    capacity = arrays.link_bandwidth_mbps
    with np.errstate(divide="ignore", invalid="ignore"):
        reserved = state.reservations.link_mbps.copy()
        links = np.where(capacity > 0, np.clip(reserved / capacity, 0.0, 1.0), 0.0)
    # Devices are whole: a count, not a share, so that the portal can say "3 of 8 free".
    held = np.rint(state.reservations.accelerators).astype(np.int64)
    devices = arrays.node_accel_count
    accelerators = {
        kind: held[:, k].tolist()
        for k, kind in enumerate(ACCELERATOR_KINDS)
        if bool(np.any(devices[:, k] > 0))
    }
    document = LoadOut(
        node_ids=list(arrays.node_ids),
        cpu_utilisation=np.round(cpu, 4).tolist(),
        mem_utilisation=np.round(mem, 4).tolist(),
        accelerators_reserved=accelerators,
        link_ids=list(arrays.link_ids),
        link_utilisation=np.round(links, 4).tolist(),
        active_placements=len(state.reservations),
    )
    return conditional_json(request, document)
