"""What of an EdgeSimPy dataset changes with time: image pulls and where users are.

Helpers of ``edgesimpy``'s importer (its docstring states the mapping); each reads the parsed
sections and raises through the importer's ``fail`` with the JSON path of bad input.

* **Image pull** of a service: its image is the ``ContainerImage`` whose ``digest`` is the
  service's ``image_digest``; the layers to pull are that image's ``layers_digests`` less the
  ``ContainerLayer`` entries already on the service's server; each layer's ``size`` is in MB
  (EdgeSimPy's unit, as its bandwidths are MB/s). They come from the nearest server holding a
  ``ContainerRegistry`` (fewest links), over the narrowest link of that fewest-links path, so
  the pull takes ``size / bandwidth`` seconds (EdgeSimPy pulls layers in parallel over shared
  links; one stream over the bottleneck is its unshared bound). No image, nothing missing, or
  a registry on the same switch: the instance serves at once.
* **Where users are**: each step of a user's ``coordinates_trace`` (else its ``coordinates``)
  is at the base station with those coordinates (EdgeSimPy moves users between base stations
  of its grid), else at its ``base_station``.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from suanwang.scenario.importers.edgesimpy import _Importer


def pull_times_s(imp: _Importer, server_switch: dict[int, int]) -> dict[int, float]:
    """Seconds each placed service (by EdgeSimPy id) pulls its image before it serves."""
    layer_size: dict[str, float] = {}
    on_server: set[tuple[str, int]] = set()
    for i, entry in enumerate(imp.sections["ContainerLayer"]):
        digest = str(entry["attributes"].get("digest", ""))
        layer_size.setdefault(digest, imp.num("ContainerLayer", i, "size"))
        server = imp.ref("ContainerLayer", i, "server", "EdgeServer")
        if server is not None:
            on_server.add((digest, server))
    images: dict[str, list[str]] = {}
    for i, entry in enumerate(imp.sections["ContainerImage"]):
        layers = entry["attributes"].get("layers_digests", [])
        if not isinstance(layers, list):
            path = ("ContainerImage", i, "attributes", "layers_digests")
            imp.fail(path, "should be a list of layer digests", layers)
        images.setdefault(str(entry["attributes"].get("digest", "")), [str(d) for d in layers])
    registries = [
        server_switch[s]
        for i in range(len(imp.sections["ContainerRegistry"]))
        if (s := imp.ref("ContainerRegistry", i, "server", "EdgeServer")) is not None
    ]
    graph = _switch_graph(imp)
    pulls: dict[int, float] = {}
    for i, entry in enumerate(imp.sections["Service"]):
        server = imp.ref("Service", i, "server", "EdgeServer")
        layers = images.get(str(entry["attributes"].get("image_digest", "")))
        if server is None or not layers or not registries:
            continue
        missing_mb = sum(layer_size.get(d, 0.0) for d in layers if (d, server) not in on_server)
        bottleneck = _bottleneck_mb_per_s(graph, registries, server_switch[server])
        if missing_mb > 0 and bottleneck is not None:
            pulls[imp.eid("Service", i)] = missing_mb / bottleneck
    return pulls


def _switch_graph(imp: _Importer) -> dict[int, list[tuple[int, float]]]:
    graph: dict[int, list[tuple[int, float]]] = {}
    for i in range(len(imp.sections["NetworkLink"])):
        ends = imp.refs("NetworkLink", i, "nodes", "NetworkSwitch")
        bandwidth = imp.num("NetworkLink", i, "bandwidth")
        if len(ends) == 2:
            graph.setdefault(ends[0], []).append((ends[1], bandwidth))
            graph.setdefault(ends[1], []).append((ends[0], bandwidth))
    return graph


def _bottleneck_mb_per_s(
    graph: dict[int, list[tuple[int, float]]], sources: list[int], target: int
) -> float | None:
    """Narrowest bandwidth on a fewest-links path from a source to ``target``.

    None when a source is ``target`` itself (a local pull) or no source reaches it.
    """
    if target in sources:
        return None
    narrowest: dict[int, float] = {s: float("inf") for s in sources}
    queue = deque(sources)
    while queue:  # breadth first: each switch is queued once, so this ends
        here = queue.popleft()
        for there, bandwidth in graph.get(here, []):
            if there not in narrowest:
                narrowest[there] = min(narrowest[here], bandwidth)
                if there == target:
                    return narrowest[there]
                queue.append(there)
    return None


def user_stations(imp: _Importer, row: int) -> Counter[int]:
    """Steps user ``row`` spends at each base station (by EdgeSimPy id) along its trace."""
    at: dict[tuple[float, float], int] = {}
    for i, entry in enumerate(imp.sections["BaseStation"]):
        xy = entry["attributes"].get("coordinates")
        if isinstance(xy, list) and len(xy) == 2:
            at.setdefault((float(xy[0]), float(xy[1])), imp.eid("BaseStation", i))
    attributes = imp.sections["User"][row]["attributes"]
    trace = attributes.get("coordinates_trace") or [attributes.get("coordinates")]
    if not isinstance(trace, list):
        imp.fail(("User", row, "attributes", "coordinates_trace"), "should be a list", trace)
    home = imp.ref("User", row, "base_station", "BaseStation")
    steps: Counter[int] = Counter()
    for step in trace:
        station = home
        if isinstance(step, list) and len(step) == 2 and all(_is_number(v) for v in step):
            station = at.get((float(step[0]), float(step[1])), home)
        if station is not None:
            steps[station] += 1
    return steps


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
