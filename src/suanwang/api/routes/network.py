"""The live topology: sites, nodes, links and services; nodes and links taken down and up."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from suanwang.api.auth import PEOPLE, STAFF, allow, speaks_for
from suanwang.api.deps import IdPath, PlaneDep, answer
from suanwang.api.problems import ApiError
from suanwang.api.topology import (
    LinkOut,
    NodeMetricsOut,
    NodeOut,
    ServiceOut,
    SiteOut,
    State,
    StateChangeIn,
    StateChangeOut,
)
from suanwang.control.stores import Principal, Role
from suanwang.model import Tier

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
    state: State | None = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[NodeOut]:
    """Nodes of the live topology with their state, in scenario order."""
    live = plane.live
    down = live.down_nodes
    nodes = [
        NodeOut.of(n, n.id in down)
        for n in live.scenario.topology.nodes.values()
        if (site_id is None or n.site_id == site_id)
        and (state is None or (n.id in down) == (state == "down"))
    ]
    return nodes[offset : offset + limit]


@router.get("/v1/nodes/{node_id}", operation_id="getNode")
async def get_node(node_id: IdPath, plane: PlaneDep, _: People) -> NodeOut:
    """One node with its state."""
    live = plane.live
    node = live.scenario.topology.nodes.get(node_id)
    if node is None:
        raise ApiError(404, f"node {node_id!r} does not exist")
    return NodeOut.of(node, node_id in live.down_nodes)


@router.get("/v1/nodes/{node_id}/metrics", operation_id="getNodeMetrics")
def get_node_metrics(node_id: IdPath, plane: PlaneDep, who: NodeKeeper) -> NodeMetricsOut:
    """The latest verified metrics its agent reported, and their age."""
    live = plane.live
    if node_id not in live.scenario.topology.nodes:
        raise ApiError(404, f"node {node_id!r} does not exist")
    if not speaks_for(who, node_id):
        raise ApiError(403, f"principal {who.id} does not keep node {node_id}")
    with live.aggregator_lock:
        age_s = live.aggregator.age_s(node_id)
        values = live.aggregator.latest(node_id)
    return NodeMetricsOut(
        node_id=node_id, age_s=age_s if math.isfinite(age_s) else None, values=values
    )


async def _set_node(
    plane: PlaneDep, who: Principal, node_id: str, up: bool, why: str
) -> StateChangeOut:
    if node_id in plane.live.scenario.topology.nodes and not speaks_for(who, node_id):
        raise ApiError(403, f"principal {who.id} does not keep node {node_id}")
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
    """Return a node to the pool."""
    return await _set_node(plane, who, node_id, True, "back up")


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
    return [ServiceOut.of(s) for s in plane.live.scenario.services]


@router.get("/v1/services/{service_id}", operation_id="getService")
async def get_service(service_id: IdPath, plane: PlaneDep, _: People) -> ServiceOut:
    """One service with its instances."""
    for service in plane.live.scenario.services:
        if service.id == service_id:
            return ServiceOut.of(service)
    raise ApiError(404, f"service {service_id!r} does not exist")
