"""Import GraphML and GML topologies (Internet Topology Zoo and alike) as network-only scenarios.

The graph is read with networkx and mapped to plain data in the scenario file format, which then
goes through ``scenario_from_data``: an imported scenario obeys exactly the rules of a
hand-written one. The source has no compute, so no nodes, services or workload are invented.

Mapping:

* **Graph node → site.** The id is the node's ``label`` (else its graph id) made a valid scenario
  id (accents dropped, other characters outside ``A-Za-z0-9_.:@/+-`` become ``_``, duplicates get
  ``-2``, ``-3``...); the name is the label as written. ``Latitude``/``Longitude`` (Topology Zoo)
  or ``lat``/``lon`` give the position. The tier is ``region`` unless a ``tier`` or ``type``
  attribute names a valid tier. Every other scalar attribute becomes a site label (so a Topology
  Zoo external peer keeps ``Internal: "0"``; it is still a site), and ``graph_id`` keeps the
  node's id in the source graph.
* **Edge → link**, in both directions (figures are per direction). Bandwidth, first found of:
  ``bandwidth_mbps``; ``LinkSpeedRaw`` in bit/s; ``LinkSpeed`` with ``LinkSpeedUnits``
  (``K``/``M``/``G``/``T``); a ``LinkLabel`` or ``LinkType`` that reads as a rate (``"2.5 Gbps"``)
  or a SONET carrier (``"OC-192"``: 192 × 51.84 Mbps); else ``DEFAULT_BANDWIDTH_MBPS``. Free text
  that is none of these (``"10-20Gbps"``) counts as unstated. Latency: ``latency_ms``, else
  ``delay`` (a number in ms, or text such as ``"3ms"``, ``"250us"``), else the fibre latency of
  the great-circle distance (left to the scenario reader, as for a hand-written link), else
  ``DEFAULT_LATENCY_MS`` when an end has no position.
* **Parallel edges** of a multigraph become distinct links ``A--B``, ``A--B:2``, ... (``#`` is
  not allowed in scenario ids). In a directed graph an edge whose reverse was already imported
  is the same bidirectional link and is merged into it. **Self-loops** are skipped.
  ``read_graph`` reports both counts; ``import_graph`` returns the scenario only.

The scenario is named after the file stem.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from xml.etree.ElementTree import ParseError

from suanwang.model import Scenario, Tier
from suanwang.scenario.errors import ScenarioError, format_path
from suanwang.scenario.io import scenario_from_data

DEFAULT_BANDWIDTH_MBPS = 10_000.0
"""Bandwidth of an edge that states none (10 Gbps, a common backbone port)."""

DEFAULT_LATENCY_MS = 1.0
"""One-way latency of an edge that states none and has an end without a position."""

DEFAULT_TIER = Tier.REGION
"""Tier of a graph node without a valid ``tier`` or ``type`` attribute."""

_ID_MAX = 90  # the schema allows 200: room for link ids "A--B:N" made of two site ids
_BAD_ID_CHARS = re.compile(r"[^A-Za-z0-9_.:@/+-]+")
_UNIT_MBPS = {"k": 1e-3, "m": 1.0, "g": 1e3, "t": 1e6}
_RATE_TEXT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgt])(?:b|bit)?(?:ps|/s)\s*$", re.IGNORECASE)
_SONET_TEXT = re.compile(r"^\s*OC-?([0-9]+)c?\s*$", re.IGNORECASE)
_OC1_MBPS = 51.84
_DELAY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(ms|us|µs|s)?\s*$")
_DELAY_UNIT_MS = {"ms": 1.0, "us": 1e-3, "µs": 1e-3, "s": 1e3, None: 1.0}
_POSITION_KEYS = (("Latitude", "Longitude"), ("lat", "lon"))
GraphFormat = Literal["graphml", "gml"]
_SUFFIXES: dict[str, GraphFormat] = {".graphml": "graphml", ".gml": "gml"}
_NAMES = {"graphml": "GraphML", "gml": "GML"}


@dataclass(frozen=True, slots=True)
class GraphImport:
    """What ``read_graph`` made of a graph file.

    Attributes:
        scenario: The network-only scenario.
        skipped_self_loops: Edges from a node to itself, left out.
        merged_reverse_edges: Edges of a directed graph merged into the link of their reverse.
        default_bandwidth_links: Links that got ``DEFAULT_BANDWIDTH_MBPS``.
        default_latency_links: Links that got ``DEFAULT_LATENCY_MS``.
    """

    scenario: Scenario
    skipped_self_loops: int = 0
    merged_reverse_edges: int = 0
    default_bandwidth_links: int = 0
    default_latency_links: int = 0


def safe_id(text: str, fallback: str = "x") -> str:
    """``text`` as a valid scenario id: accents dropped, other odd characters as ``_``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = _BAD_ID_CHARS.sub("_", ascii_text).strip("_")[:_ID_MAX]
    return cleaned or fallback


def import_graph(path: str | Path, fmt: GraphFormat | None = None) -> Scenario:
    """The network-only scenario of the GraphML (``.graphml``) or GML (``.gml``) file at ``path``.

    Args:
        path: The graph file.
        fmt: ``"graphml"`` or ``"gml"``; by default the file's suffix decides.

    Raises:
        ScenarioError: the file is missing, unreadable, not a graph, or has bad attribute values.
    """
    return read_graph(path, fmt).scenario


def read_graph(path: str | Path, fmt: GraphFormat | None = None) -> GraphImport:
    """Like ``import_graph``, with counts of what was skipped, merged or defaulted."""
    import networkx as nx  # noqa: PLC0415 - slow to import; only graph files need it

    source = str(path)
    if fmt is None:
        suffix = Path(path).suffix.lower()
        if suffix not in _SUFFIXES:
            raise ScenarioError(
                "unknown file type; expected a .graphml or .gml file", source=source
            )
        fmt = _SUFFIXES[suffix]
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise ScenarioError(f"cannot read the file: {reason}", source=source) from error
    try:
        graph = nx.parse_graphml(raw) if fmt == "graphml" else nx.parse_gml(_text(raw), label=None)
    except ParseError as error:
        raise ScenarioError(
            f"not valid GraphML: {error.msg}", source=source, line=error.position[0]
        ) from None
    except (nx.NetworkXError, ValueError, KeyError, TypeError) as error:
        raise ScenarioError(f"not a valid {_NAMES[fmt]} graph: {error}", source=source) from None
    return graph_to_scenario(graph, Path(path).stem, source=source)


def _text(raw: bytes) -> str:
    """GML is ASCII by the standard; accept UTF-8 and Latin-1 files seen in the wild."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def graph_to_scenario(graph: Any, name: str, source: str = "<graph>") -> GraphImport:
    """Map a networkx graph (any of the four graph classes) to a network-only scenario.

    Args:
        graph: The graph; node and edge attributes as described in the module docstring.
        name: Scenario name (made a valid id).
        source: Names the graph in errors.

    Raises:
        ScenarioError: an attribute value is unusable (a latitude of 123, a bandwidth of "fast").
    """
    site_of: dict[Any, str] = {}
    taken: set[str] = set()
    sites: list[dict[str, Any]] = []
    geo_of: dict[str, dict[str, float] | None] = {}
    for key, attrs in graph.nodes(data=True):
        site = _site(key, attrs, taken, source)
        site_of[key] = site["id"]
        geo_of[site["id"]] = site.get("geo")
        sites.append(site)

    links: list[dict[str, Any]] = []
    link_ids: set[str] = set()
    unmatched_forward: Counter[tuple[Any, Any]] = Counter()
    loops = merged = default_bw = default_lat = 0
    directed = graph.is_directed()
    for u, v, attrs in graph.edges(data=True):
        if u == v:
            loops += 1
            continue
        if directed and unmatched_forward[(v, u)] > 0:
            unmatched_forward[(v, u)] -= 1
            merged += 1
            continue
        unmatched_forward[(u, v)] += 1
        a, b = site_of[u], site_of[v]
        link: dict[str, Any] = {"id": _unique_link_id(f"{a}--{b}", link_ids), "a": a, "b": b}
        where = ("edges", link["id"])
        bandwidth = _bandwidth_mbps(attrs, where, source)
        default_bw += bandwidth is None
        link["bandwidth_mbps"] = DEFAULT_BANDWIDTH_MBPS if bandwidth is None else bandwidth
        latency = _latency_ms(attrs, where, source)
        if latency is None and (geo_of[a] is None or geo_of[b] is None):
            latency = DEFAULT_LATENCY_MS
            default_lat += 1
        if latency is not None:  # else the reader derives it from the ends' distance
            link["latency_ms"] = latency
        links.append(link)

    title = graph.graph.get("Network") or graph.graph.get("label") or graph.graph.get("name")
    description = f"Imported from {Path(source).name}" + (f" ({title})" if title else "")
    data = {
        "version": 1,
        "name": safe_id(name, "graph"),
        "description": description,
        "sites": sites,
        "links": links,
    }
    scenario = _validated(data, source)
    return GraphImport(scenario, loops, merged, default_bw, default_lat)


def _validated(data: dict[str, Any], source: str) -> Scenario:
    try:
        return scenario_from_data(data, source)
    except ScenarioError as error:  # a path into the generated data, not the source file
        raise ScenarioError(
            f"the imported scenario is invalid at {format_path(error.path)}: {error.message}",
            source=source,
        ) from None


def _unique_id(base: str, taken: set[str]) -> str:
    candidate, k = base, 1
    while candidate in taken:
        k += 1
        candidate = f"{base}-{k}"
    taken.add(candidate)
    return candidate


def _unique_link_id(base: str, taken: set[str]) -> str:
    candidate, k = base, 1
    while candidate in taken:
        k += 1
        candidate = f"{base}:{k}"
    taken.add(candidate)
    return candidate


def _site(key: Any, attrs: Mapping[str, Any], taken: set[str], source: str) -> dict[str, Any]:
    label = attrs.get("label")
    name = str(label) if label not in (None, "") else str(key)
    site: dict[str, Any] = {
        "id": _unique_id(safe_id(name, safe_id(f"n{key}")), taken),
        "tier": DEFAULT_TIER.value,
        "name": name,
    }
    used = {"label"}
    for tier_key in ("tier", "type"):
        value = attrs.get(tier_key)
        if isinstance(value, str) and value.strip().lower() in {t.value for t in Tier}:
            site["tier"] = value.strip().lower()
            used.add(tier_key)
            break
    for lat_key, lon_key in _POSITION_KEYS:
        if lat_key in attrs and lon_key in attrs:
            where = ("nodes", str(key))
            lat = _number(attrs[lat_key], (*where, lat_key), source)
            lon = _number(attrs[lon_key], (*where, lon_key), source)
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ScenarioError(
                    "position out of range (latitude -90..90, longitude -180..180)",
                    path=where,
                    source=source,
                    value=(lat, lon),
                )
            site["geo"] = {"lat_deg": lat, "lon_deg": lon}
            used.update((lat_key, lon_key))
            break
    labels = {"graph_id": str(key)}
    for attr, value in attrs.items():
        if attr not in used and isinstance(value, str | int | float) and value != "":
            labels[str(attr)] = str(value).lower() if isinstance(value, bool) else str(value)
    site["labels"] = labels
    return site


def _number(value: Any, path: tuple[str | int, ...], source: str) -> float:
    """A finite number from an int, float or numeric string; else a ScenarioError at ``path``."""
    if not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if math.isfinite(number):
            return number
    raise ScenarioError("should be a finite number", path=path, source=source, value=value)


def _bandwidth_mbps(
    attrs: Mapping[str, Any], where: tuple[str | int, ...], source: str
) -> float | None:
    for key, scale in (("bandwidth_mbps", 1.0), ("LinkSpeedRaw", 1e-6)):
        if key in attrs:
            mbps = _number(attrs[key], (*where, key), source) * scale
            if mbps <= 0:
                raise ScenarioError(
                    "should be a positive bandwidth",
                    path=(*where, key),
                    source=source,
                    value=attrs[key],
                )
            return mbps
    speed, units = attrs.get("LinkSpeed"), attrs.get("LinkSpeedUnits")
    texts = [attrs.get("LinkLabel"), attrs.get("LinkType")]
    if speed is not None and isinstance(units, str):  # free text ("10", "2.5", "<10")
        texts.insert(0, f"{speed} {units[:1]}bps")
    for text in texts:
        rate = _text_mbps(text)
        if rate is not None:
            return rate
    return None


def _text_mbps(text: Any) -> float | None:
    """A rate written out (``"10 Gbps"``, ``"OC-48"``) in Mbps; None for anything else."""
    if not isinstance(text, str):
        return None
    if match := _RATE_TEXT.match(text):
        mbps = float(match.group(1)) * _UNIT_MBPS[match.group(2).lower()]
    elif match := _SONET_TEXT.match(text):
        mbps = int(match.group(1)) * _OC1_MBPS
    else:
        return None
    return mbps if mbps > 0 else None


def _latency_ms(
    attrs: Mapping[str, Any], where: tuple[str | int, ...], source: str
) -> float | None:
    if "latency_ms" in attrs:
        latency = _number(attrs["latency_ms"], (*where, "latency_ms"), source)
    elif "delay" in attrs:
        value = attrs["delay"]
        match = _DELAY.match(value) if isinstance(value, str) else None
        if match is not None:
            latency = float(match.group(1)) * _DELAY_UNIT_MS[match.group(2)]
        else:
            latency = _number(value, (*where, "delay"), source)
    else:
        return None
    if latency < 0:
        key = "latency_ms" if "latency_ms" in attrs else "delay"
        raise ScenarioError(
            "should not be negative", path=(*where, key), source=source, value=attrs[key]
        )
    return latency
