"""Users, applications and services of the generated EdgeSimPy datasets (``edgesimpy_gen``).

Each user has one application of one service, placed first-fit on the nearest server (fewest
links) with the CPU and memory left for it; ``edgesimpy_gen``'s docstring states the whole
build. The constants here are shared with it.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from typing import Any

import numpy as np

WIRELESS_DELAY = 5
"""Wireless delay of every base station (EdgeSimPy's sample datasets)."""

LINK_DELAY = 5
"""Delay of every link (EdgeSimPy's sample datasets)."""

IMAGES: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("alpine", (3.0,)),
    ("nginx", (27.0, 25.0, 1.0)),
    ("ubuntu", (29.0,)),
    ("python", (27.0, 3.0, 11.0, 2.0)),
    ("redis", (27.0, 1.0, 10.0)),
    ("node", (27.0, 40.0, 2.0)),
    ("postgres", (27.0, 4.0, 8.0, 90.0)),
)
"""Service images: name and layer sizes in MB."""

SERVICE_DEMANDS: tuple[tuple[int, int], ...] = ((1, 1024), (1, 2048), (2, 2048))
"""(CPU cores, memory MB) a service may ask for."""

DELAY_SLAS: tuple[int, ...] = (25, 45)
"""One-way delay SLAs a user may have (EdgeSimPy's sample datasets)."""


def ref(cls: str, entry_id: int) -> dict[str, Any]:
    """An EdgeSimPy relationship: ``{"class": cls, "id": entry_id}``."""
    return {"class": cls, "id": entry_id}


def digest(text: str) -> str:
    """A digest of ``text`` as EdgeSimPy writes image and layer digests (``sha256:HEX``)."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _parents(neighbours: list[list[int]], source: int) -> tuple[list[int], list[int]]:
    """Breadth-first parents (``source`` its own) and hops from ``source`` of every cell."""
    parent, hops = [-1] * len(neighbours), [0] * len(neighbours)
    parent[source] = source
    queue = deque([source])
    while queue:  # each cell is queued once, so this ends
        here = queue.popleft()
        for there in neighbours[here]:
            if parent[there] < 0:
                parent[there], hops[there] = here, hops[here] + 1
                queue.append(there)
    return parent, hops


def _path(parent: list[int], target: int) -> list[int]:
    """Cells from the source to ``target`` (the grid is connected: every cell is reached)."""
    path = [target]
    while parent[path[-1]] != path[-1]:
        path.append(parent[path[-1]])
    return path[::-1]


def add_users(
    data: dict[str, Any],
    users: int,
    *,
    hosts: list[int],
    coordinates: list[list[int]],
    neighbours: list[list[int]],
    rng: np.random.Generator,
    steps: int,
    dwell_steps: float,
) -> None:
    """Users (id u), each with application u, service u and access pattern u (docstring)."""
    servers = data["EdgeServer"]
    parents: dict[int, list[int]] = {}
    by_distance: dict[int, list[int]] = {}
    for u in range(1, users + 1):
        home = int(rng.integers(len(coordinates)))
        if home not in parents:
            parents[home], hops_of_cell = _parents(neighbours, home)
            hops = [hops_of_cell[cell] for cell in hosts]
            by_distance[home] = sorted(range(len(hosts)), key=lambda k: (hops[k], k))
        name, _ = IMAGES[int(rng.integers(len(IMAGES)))]
        cpu, memory = SERVICE_DEMANDS[int(rng.integers(len(SERVICE_DEMANDS)))]
        placed = next(
            (
                k
                for k in by_distance[home]
                if servers[k]["attributes"]["cpu"] - servers[k]["attributes"]["cpu_demand"] >= cpu
                and servers[k]["attributes"]["memory"] - servers[k]["attributes"]["memory_demand"]
                >= memory
            ),
            None,
        )
        service: dict[str, Any] = {
            "attributes": {
                "id": u,
                "label": name,
                "state": 0,
                "_available": True,
                "cpu_demand": cpu,
                "memory_demand": memory,
                "image_digest": digest(name),
            },
            "relationships": {"application": ref("Application", u), "server": None},
        }
        sla = DELAY_SLAS[int(rng.integers(len(DELAY_SLAS)))]
        paths: list[list[int]] = []
        delay = WIRELESS_DELAY
        if placed is not None:
            server = servers[placed]
            server["attributes"]["cpu_demand"] += cpu
            server["attributes"]["memory_demand"] += memory
            server["relationships"]["services"].append(ref("Service", u))
            service["relationships"]["server"] = ref("EdgeServer", placed + 1)
            path = [cell + 1 for cell in _path(parents[home], hosts[placed])]
            paths = [path]
            delay += LINK_DELAY * (len(path) - 1)
        data["Service"].append(service)
        data["Application"].append(
            {
                "attributes": {"id": u, "label": name},
                "relationships": {
                    "services": [ref("Service", u)],
                    "users": [ref("User", u)],
                },
            }
        )
        data["CircularDurationAndIntervalAccessPattern"].append(
            {
                "attributes": {
                    "id": u,
                    "duration_values": [math.inf],
                    "interval_values": [0],
                    "history": [
                        {
                            "start": 1,
                            "end": math.inf,
                            "duration": math.inf,
                            "waiting_time": 0,
                            "access_time": 0,
                            "interval": 0,
                            "next_access": math.inf,
                        }
                    ],
                },
                "relationships": {"user": ref("User", u), "app": ref("Application", u)},
            }
        )
        trace = _walk(home, neighbours, rng, steps, dwell_steps)
        data["User"].append(
            {
                "attributes": {
                    "id": u,
                    "coordinates": coordinates[home],
                    "coordinates_trace": [coordinates[cell] for cell in trace],
                    "delays": {str(u): delay if placed is not None else None},
                    "delay_slas": {str(u): sla},
                    "communication_paths": {str(u): paths},
                    "making_requests": {str(u): {"1": True}},
                },
                "relationships": {
                    "access_patterns": {str(u): ref("CircularDurationAndIntervalAccessPattern", u)},
                    "mobility_model": "pathway",
                    "applications": [ref("Application", u)],
                    "base_station": ref("BaseStation", home + 1),
                },
            }
        )
        data["BaseStation"][home]["relationships"]["users"].append(ref("User", u))


def _walk(
    home: int,
    neighbours: list[list[int]],
    rng: np.random.Generator,
    steps: int,
    dwell_steps: float,
) -> list[int]:
    """Cells of a user at steps 0..``steps``: moves to a random neighbour w.p. 1/dwell."""
    moves = rng.random(steps) < 1.0 / dwell_steps
    picks = rng.random(steps)
    cell, trace = home, [home]
    for move, pick in zip(moves.tolist(), picks.tolist(), strict=True):
        if move and neighbours[cell]:
            cell = neighbours[cell][int(pick * len(neighbours[cell]))]
        trace.append(cell)
    return trace
