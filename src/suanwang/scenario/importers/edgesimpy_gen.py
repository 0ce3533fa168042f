"""Seeded EdgeSimPy-format datasets of any size, built as EdgeSimPy's own scaled datasets are.

``generate_edgesimpy(users, servers, seed=...)`` returns the JSON object of an EdgeSimPy dataset
(the class sections ``import_edgesimpy`` reads; ``write_edgesimpy`` writes it to a file), the
same for the same arguments. The reference sizes are EdgeSimPy's scaled datasets: 100 users /
25 servers, 1,000 / 200 and 3,000 / 512 (``REFERENCE_SIZES``). What it builds, as EdgeSimPy's
dataset builders do:

* **Map**: ``base_stations`` base stations (default ``max(servers, ceil(users / 4))``) on
  EdgeSimPy's hexagonal grid (row ``y``, ``x = 2 * column + y % 2``), each with its own
  ``NetworkSwitch`` (Conterato power model) and ``WIRELESS_DELAY`` of wireless delay.
* **Network**: a ``NetworkLink`` between every pair of neighbouring cells of the grid (a full
  hexagonal mesh), each ``LINK_DELAY`` of delay and ``LINK_BANDWIDTH`` MB/s (100 Mbit/s).
* **Servers**: ``servers`` edge servers at distinct base stations drawn at random, each of one
  of the builders' models (``SERVER_MODELS``: E5430, E5507, E5645) with the linear power model
  and the static power the builders write (166, 67 and 63.1 W, not a fraction).
* **Registries and images**: a ``ContainerRegistry`` on every ``SERVERS_PER_REGISTRY``-th
  server (at least one), each holding every image of ``IMAGES`` (``ContainerImage`` entries)
  and their layers (``ContainerLayer``, sizes in MB); digests are SHA-256 of the names.
* **Users, applications, services**: each user has one application of one service, whose image
  is drawn from ``IMAGES``; the service is placed first-fit on the nearest server (fewest
  links) with the CPU and memory left for it, or left unplaced when none has. The user has a
  delay SLA drawn from ``DELAY_SLAS``, its ``delays`` and ``communication_paths`` to that
  server, one ``CircularDurationAndIntervalAccessPattern`` (always requesting), and a
  ``pathway`` mobility trace of ``steps + 1`` coordinates: at each step it moves to a random
  neighbouring base station with probability ``1 / dwell_steps``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from suanwang.scenario.importers.edgesimpy_users import (
    DELAY_SLAS,
    IMAGES,
    LINK_DELAY,
    SERVICE_DEMANDS,
    WIRELESS_DELAY,
    add_users,
    digest,
    ref,
)

REFERENCE_SIZES: tuple[tuple[int, int], ...] = ((100, 25), (1_000, 200), (3_000, 512))
"""(users, servers) of EdgeSimPy's scaled datasets."""

SERVER_MODELS: tuple[dict[str, Any], ...] = (
    {"model_name": "E5430", "cpu": 8, "memory": 16384, "max": 265, "static": 166},
    {"model_name": "E5507", "cpu": 8, "memory": 8192, "max": 218, "static": 67},
    {"model_name": "E5645", "cpu": 12, "memory": 16384, "max": 200, "static": 63.1},
)
"""EdgeSimPy's server builders: cores, memory (MB), peak and static power (W)."""

SERVER_DISK_MB = 131072
SERVERS_PER_REGISTRY = 25

LINK_BANDWIDTH = 12.5
"""Bandwidth of every link in MB/s: 100 Mbit/s (EdgeSimPy's sample datasets)."""

__all__ = [
    "DELAY_SLAS",
    "IMAGES",
    "LINK_BANDWIDTH",
    "LINK_DELAY",
    "REFERENCE_SIZES",
    "SERVER_MODELS",
    "SERVICE_DEMANDS",
    "WIRELESS_DELAY",
    "generate_edgesimpy",
    "write_edgesimpy",
]

_NETWORK_POWER = {"chassis_power": 60, "ports_power_consumption": {"125": 1, "12.5": 0.3}}


def _hex_grid(count: int) -> tuple[list[list[int]], list[list[int]]]:
    """Coordinates of ``count`` cells of a near-square hexagonal grid, and each one's neighbours."""
    columns = math.ceil(math.sqrt(count))
    cell = {(i // columns, i % columns): i for i in range(count)}
    coordinates = [[2 * c + r % 2, r] for r, c in cell]
    neighbours: list[list[int]] = [[] for _ in range(count)]
    for (r, c), i in cell.items():
        shift = r % 2  # an odd row sits half a cell to the right
        for other in ((r, c + 1), (r + 1, c - 1 + shift), (r + 1, c + shift)):
            j = cell.get(other)
            if j is not None:
                neighbours[i].append(j)
                neighbours[j].append(i)
    return coordinates, neighbours


def generate_edgesimpy(
    users: int,
    servers: int,
    *,
    seed: int = 0,
    base_stations: int | None = None,
    steps: int = 600,
    dwell_steps: float = 60.0,
) -> dict[str, Any]:
    """An EdgeSimPy dataset (its JSON object) of ``users`` users and ``servers`` servers.

    Args:
        users: Users, each with one application of one service (at least 1).
        servers: Edge servers (at least 1).
        seed: Random seed: the same arguments give the same dataset.
        base_stations: Base stations (default ``max(servers, ceil(users / 4))``; at least
            ``servers``).
        steps: Steps of each user's mobility trace (it has ``steps + 1`` coordinates).
        dwell_steps: Mean steps a user stays at a base station (at least 1).

    Raises:
        ValueError: A count is out of range; the message names the argument and its value.
    """
    stations = max(servers, math.ceil(users / 4)) if base_stations is None else base_stations
    for name, value, low in (("users", users, 1), ("servers", servers, 1), ("steps", steps, 0)):
        if value < low:
            raise ValueError(f"{name} must be at least {low} (got {value})")
    if stations < servers:
        raise ValueError(f"base_stations must be at least servers={servers} (got {stations})")
    if not dwell_steps >= 1:
        raise ValueError(f"dwell_steps must be at least 1 (got {dwell_steps})")
    rng = np.random.default_rng(seed)
    coordinates, neighbours = _hex_grid(stations)
    data: dict[str, Any] = {cls: [] for cls in _SECTIONS}
    _network(data, coordinates, neighbours)
    hosts = sorted(int(s) for s in rng.choice(stations, size=servers, replace=False))
    _servers(data, hosts, rng)
    _registries(data)
    add_users(
        data,
        users,
        hosts=hosts,
        coordinates=coordinates,
        neighbours=neighbours,
        rng=rng,
        steps=steps,
        dwell_steps=dwell_steps,
    )
    return data


_SECTIONS = (
    "NetworkSwitch",
    "NetworkLink",
    "BaseStation",
    "User",
    "ContainerLayer",
    "ContainerImage",
    "Service",
    "ContainerRegistry",
    "Application",
    "EdgeServer",
    "RandomDurationAndIntervalAccessPattern",
    "CircularDurationAndIntervalAccessPattern",
)


def _network(
    data: dict[str, Any], coordinates: list[list[int]], neighbours: list[list[int]]
) -> None:
    """Base stations, their switches and the links of the hexagonal mesh (ids: cell + 1)."""
    for i, xy in enumerate(coordinates):
        data["BaseStation"].append(
            {
                "attributes": {"id": i + 1, "coordinates": xy, "wireless_delay": WIRELESS_DELAY},
                "relationships": {
                    "users": [],
                    "edge_servers": [],
                    "network_switch": ref("NetworkSwitch", i + 1),
                },
            }
        )
        data["NetworkSwitch"].append(
            {
                "attributes": {
                    "id": i + 1,
                    "coordinates": xy,
                    "active": True,
                    "power_model_parameters": _NETWORK_POWER,
                },
                "relationships": {
                    "power_model": "ConteratoNetworkPowerModel",
                    "edge_servers": [],
                    "links": [],
                    "base_station": ref("BaseStation", i + 1),
                },
            }
        )
    for i, near in enumerate(neighbours):
        for j in near:
            if j > i:
                link_id = len(data["NetworkLink"]) + 1
                data["NetworkLink"].append(
                    {
                        "attributes": {
                            "id": link_id,
                            "delay": LINK_DELAY,
                            "bandwidth": LINK_BANDWIDTH,
                            "bandwidth_demand": 0,
                            "active": True,
                        },
                        "relationships": {
                            "topology": ref("Topology", 1),
                            "active_flows": [],
                            "applications": [],
                            "nodes": [ref("NetworkSwitch", i + 1), ref("NetworkSwitch", j + 1)],
                        },
                    }
                )
                for end in (i, j):
                    links = data["NetworkSwitch"][end]["relationships"]["links"]
                    links.append(ref("NetworkLink", link_id))


def _servers(data: dict[str, Any], hosts: list[int], rng: np.random.Generator) -> None:
    """One edge server (id: position + 1) at each host cell, of a model drawn at random."""
    for k, cell in enumerate(hosts):
        model = SERVER_MODELS[int(rng.integers(len(SERVER_MODELS)))]
        server_id = k + 1
        data["EdgeServer"].append(
            {
                "attributes": {
                    "id": server_id,
                    "available": True,
                    "model_name": model["model_name"],
                    "cpu": model["cpu"],
                    "memory": model["memory"],
                    "disk": SERVER_DISK_MB,
                    "cpu_demand": 0,
                    "memory_demand": 0,
                    "disk_demand": 0,
                    "coordinates": data["BaseStation"][cell]["attributes"]["coordinates"],
                    "max_concurrent_layer_downloads": 3,
                    "active": True,
                    "power_model_parameters": {
                        "max_power_consumption": model["max"],
                        "static_power_percentage": model["static"],  # watts, as builders write
                    },
                },
                "relationships": {
                    "power_model": "LinearServerPowerModel",
                    "base_station": ref("BaseStation", cell + 1),
                    "network_switch": ref("NetworkSwitch", cell + 1),
                    "services": [],
                    "container_layers": [],
                    "container_images": [],
                    "container_registries": [],
                },
            }
        )
        for cls in ("BaseStation", "NetworkSwitch"):
            data[cls][cell]["relationships"]["edge_servers"].append(ref("EdgeServer", server_id))


def _registries(data: dict[str, Any]) -> None:
    """A registry, every image and every layer on each ``SERVERS_PER_REGISTRY``-th server."""
    for server in data["EdgeServer"][::SERVERS_PER_REGISTRY]:
        server_id = server["attributes"]["id"]
        registry_id = len(data["ContainerRegistry"]) + 1
        data["ContainerRegistry"].append(
            {
                "attributes": {"id": registry_id, "cpu_demand": 1, "memory_demand": 1024},
                "relationships": {"server": ref("EdgeServer", server_id)},
            }
        )
        links = server["relationships"]
        links["container_registries"].append(ref("ContainerRegistry", registry_id))
        server["attributes"]["cpu_demand"] += 1
        server["attributes"]["memory_demand"] += 1024
        for name, sizes in IMAGES:
            layers = [digest(f"{name}/layer-{n}") for n in range(len(sizes))]
            image_id = len(data["ContainerImage"]) + 1
            data["ContainerImage"].append(
                {
                    "attributes": {
                        "id": image_id,
                        "name": name,
                        "tag": "latest",
                        "digest": digest(name),
                        "layers_digests": layers,
                        "architecture": "amd64",
                    },
                    "relationships": {"server": ref("EdgeServer", server_id)},
                }
            )
            links["container_images"].append(ref("ContainerImage", image_id))
            for layer_digest, size_mb in zip(layers, sizes, strict=True):
                layer_id = len(data["ContainerLayer"]) + 1
                data["ContainerLayer"].append(
                    {
                        "attributes": {
                            "id": layer_id,
                            "digest": layer_digest,
                            "size": size_mb,
                            "instruction": f"layer of {name}",
                        },
                        "relationships": {"server": ref("EdgeServer", server_id)},
                    }
                )
                links["container_layers"].append(ref("ContainerLayer", layer_id))


def write_edgesimpy(path: str | Path, data: dict[str, Any]) -> None:
    """Write dataset ``data`` as JSON (``Infinity`` for EdgeSimPy's endless access durations).

    Raises:
        OSError: The file cannot be written.
    """
    Path(path).write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
