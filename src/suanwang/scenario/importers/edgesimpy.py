"""Import EdgeSimPy JSON datasets as scenarios.

An EdgeSimPy dataset is a JSON object whose keys are class names (``BaseStation``,
``NetworkSwitch``, ``NetworkLink``, ``EdgeServer``, ``Service``, ``Application``, ``User``, ...);
each holds a list of entries ``{"attributes": {"id": N, ...}, "relationships": {...}}`` where a
relationship is ``{"class": C, "id": N}``, a list of those, ``null`` or the name of a callable.
The dataset is mapped to plain data in the scenario file format and passed through
``scenario_from_data``, so an import obeys the rules of a hand-written scenario. Bad input gives
a ``ScenarioError`` naming the file and the JSON path (``NetworkLink[3].relationships.nodes[1]``).

Mapping (each choice stated, with the constant that carries it; the workload's constants and
code are in ``edgesimpy_workload``, the image pulls and traces in ``edgesimpy_time``):

* **BaseStation → site** ``bs-N`` of tier ``edge``; its NetworkSwitch is folded into it (one
  switch per base station in EdgeSimPy). EdgeSimPy coordinates are a planar grid, not latitude
  and longitude, so ``geo`` stays empty and the site labels keep ``x``, ``y``, ``switch`` and
  ``wireless_delay_ms``. A switch that no base station holds becomes a site ``sw-N`` of its own.
* **NetworkLink → link** ``nl-N`` between the sites of its two switches; ``delay`` is the one-way
  ``latency_ms`` (EdgeSimPy delays and SLAs share one unit, read as ms). EdgeSimPy ``bandwidth``
  is in megabytes per second (its switch power model keys 12.5 and 125 are 100 Mbit/s and
  1 Gbit/s ports), so ``bandwidth_mbps = bandwidth * MBPS_PER_EDGESIMPY_BANDWIDTH`` (8).
* **EdgeServer → node** ``es-N`` at its base station's site (else its switch's): ``cpu`` →
  ``cpu_cores``; ``memory`` and ``disk`` (MB) / 1024 → ``mem_gib``, ``storage_gib``;
  ``model_name`` → label ``model``; ``max_power_consumption`` → ``peak_power_w`` and
  ``static_power_percentage`` × that → ``idle_power_w``; a ``static_power_percentage`` above 1
  is read as the static power in watts, as EdgeSimPy's own server builders write it (166, 67,
  63.1: 166 is the 0.6264 of the datasets' 265 W E5430), and must not exceed the peak.
  EdgeSimPy has no compute rate; nodes get
  ``CPU_GFLOPS_PER_CORE`` per core (a Xeon of the E5400/E5600 era the datasets name).
* **Service → service** ``svc-N`` (CS-ID) named by its ``label``, with one instance
  ``svc-N@es-M`` on its server when it has one, and the task type of its application; the twin's
  scheduler runs the application's requests only there. The instance's ``ready_s`` is its image
  pull time (``edgesimpy_time``: missing layers' MB over the narrowest link from the nearest
  registry), so it serves only from then, as EdgeSimPy's services wait for their images.
* **Application → task type** ``app-N``: its services' ``cpu_demand`` and ``memory_demand`` (MB)
  summed (the application runs as one unit of work), ``WORK_GFLOP_PER_REQUEST`` of work (EdgeSimPy
  models no compute time, so a token amount). EdgeSimPy's SLA bounds a one-way delay, the
  wireless hop of the user's base station plus the links to the service's server; the twin's
  budget bounds the round trip plus compute (requests enter at the base-station site). So the
  budget is ``2 × (sla − wireless) + COMPUTE_ALLOWANCE_MS`` for the tightest of its users
  (``delay_slas``), at least ``MIN_BUDGET_MS``: a server EdgeSimPy counts as meeting the SLA
  passes the twin's budget. The class is ``hot`` when that SLA is at most ``HOT_SLA_MS``.
* **Users → Poisson arrivals** of their application at ``RATE_PER_USER_PER_S`` per user, ingress
  at the base-station sites the users' mobility traces visit, weighted by user-steps there
  (``edgesimpy_time``); ``twin run --users`` moves users between those sites (or, where a
  trace never leaves one, between the workload's ingress sites). Access patterns are ignored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from suanwang.model import Precision, Scenario
from suanwang.scenario.errors import ScenarioError, format_path
from suanwang.scenario.importers.edgesimpy_workload import services_of, workload_of
from suanwang.scenario.importers.graph import safe_id
from suanwang.scenario.io import scenario_from_data

MBPS_PER_EDGESIMPY_BANDWIDTH = 8.0
"""EdgeSimPy link bandwidth is in MB/s; times 8 gives Mbit/s (12.5 → 100 Mbps)."""

CPU_GFLOPS_PER_CORE: Mapping[Precision, float] = {Precision.FP64: 10.0, Precision.FP32: 20.0}
"""Peak rate of one EdgeSimPy server core (Xeon E54xx/E56xx: ~2.5 GHz, 4 fp64 flop/cycle)."""

REQUIRED_CLASSES = ("BaseStation", "NetworkSwitch", "NetworkLink", "EdgeServer")
"""Class sections every dataset must have; ``Service``, ``Application``, ``User`` may be absent."""

_OPTIONAL_CLASSES = (
    "Service",
    "Application",
    "User",
    "ContainerRegistry",
    "ContainerImage",
    "ContainerLayer",
)
_Path = tuple[str | int, ...]


def import_edgesimpy(path: str | Path) -> Scenario:
    """The scenario of the EdgeSimPy JSON dataset at ``path``.

    Raises:
        ScenarioError: the file is missing, not JSON, or not a valid EdgeSimPy dataset.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ScenarioError(f"cannot read the file: {reason}", source=source) from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ScenarioError(
            f"not valid JSON: {error.msg}", source=source, line=error.lineno
        ) from None
    return edgesimpy_to_scenario(data, Path(path).stem, source=source)


def edgesimpy_to_scenario(data: Any, name: str, source: str = "<edgesimpy>") -> Scenario:
    """Map already-parsed EdgeSimPy dataset ``data`` to a scenario called ``name``.

    Raises:
        ScenarioError: ``data`` is not a valid EdgeSimPy dataset; the error names ``source``
            and the JSON path of the problem.
    """
    return _Importer(data, source).scenario(safe_id(name, "edgesimpy"))


class _Importer:
    """One dataset being read: the class sections, indexed by EdgeSimPy id."""

    def __init__(self, data: Any, source: str) -> None:
        self.source = source
        if not isinstance(data, dict):
            self.fail((), "expected a JSON object whose keys are EdgeSimPy class names", data)
        self.sections: dict[str, list[dict[str, Any]]] = {}
        self.index: dict[str, dict[int, int]] = {}
        for cls in (*REQUIRED_CLASSES, *_OPTIONAL_CLASSES):
            if cls not in data and cls in _OPTIONAL_CLASSES:
                data = {**data, cls: []}
            if cls not in data:
                self.fail((cls,), f"missing class section (every dataset has {cls} entries)")
            self.sections[cls] = self._section(cls, data[cls])

    # ------------------------------------------------------------ checked access

    def fail(self, path: _Path, message: str, *value: Any) -> NoReturn:
        """Raise the ScenarioError for ``path`` (with the offending value, when given)."""
        kwargs: dict[str, Any] = {"value": value[0]} if value else {}
        raise ScenarioError(message, path=path, source=self.source, **kwargs)

    def _section(self, cls: str, entries: Any) -> list[dict[str, Any]]:
        if not isinstance(entries, list):
            self.fail((cls,), "should be a list of entries", type(entries).__name__)
        ids: dict[int, int] = {}
        for i, entry in enumerate(entries):
            for part in ("attributes", "relationships"):
                if not isinstance(entry, dict) or not isinstance(entry.get(part), dict):
                    self.fail((cls, i, part), "should be an object", _kind(entry, part))
            entry_id = entry["attributes"].get("id")
            if not isinstance(entry_id, int) or isinstance(entry_id, bool):
                self.fail((cls, i, "attributes", "id"), "should be an integer id", entry_id)
            if entry_id in ids:
                self.fail((cls, i, "attributes", "id"), f"duplicate {cls} id", entry_id)
            ids[entry_id] = i
        self.index[cls] = ids
        return entries

    def num(self, cls: str, i: int, *keys: str, default: float | None = None) -> float:
        """A finite, non-negative number at ``cls[i].attributes.<keys>``."""
        path: _Path = (cls, i, "attributes", *keys)
        value: Any = self.sections[cls][i]["attributes"]
        for k, key in enumerate(keys):
            if not isinstance(value, dict):
                self.fail(path[: 3 + k], "should be an object", value)
            if key not in value:
                if default is None:
                    self.fail(path, "required field is missing")
                return default
            value = value[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < 0:
            self.fail(path, "should be a non-negative number", value)
        return float(value)

    def ref(self, cls: str, i: int, name: str, target: str) -> int | None:
        """The id a ``{"class": target, "id": N}`` relationship names (None when null or absent)."""
        value = self.sections[cls][i]["relationships"].get(name)
        if value is None:
            return None
        return self._target((cls, i, "relationships", name), value, target)

    def refs(self, cls: str, i: int, name: str, target: str) -> list[int]:
        """The ids a list-of-references relationship names (empty when absent)."""
        path: _Path = (cls, i, "relationships", name)
        value = self.sections[cls][i]["relationships"].get(name, [])
        if not isinstance(value, list):
            self.fail(path, f"should be a list of {target} references", value)
        return [self._target((*path, j), item, target) for j, item in enumerate(value)]

    def _target(self, path: _Path, value: Any, target: str) -> int:
        if not isinstance(value, dict) or value.get("class") != target:
            self.fail(path, f"should be a reference {{'class': '{target}', 'id': N}}", value)
        target_id = value.get("id")
        if not isinstance(target_id, int) or isinstance(target_id, bool):
            self.fail((*path, "id"), "should be an integer id", target_id)
        if target_id not in self.index[target]:
            self.fail(path, f"dangling reference: no {target} has this id", target_id)
        return int(target_id)

    def coordinates(self, cls: str, i: int) -> dict[str, str]:
        """Labels ``x`` and ``y`` from ``coordinates`` (none when absent)."""
        value = self.sections[cls][i]["attributes"].get("coordinates")
        if value is None:
            return {}
        ok = isinstance(value, list) and len(value) == 2
        if not ok or not all(_is_number(v) for v in value):
            self.fail((cls, i, "attributes", "coordinates"), "should be [x, y]", value)
        return {"x": _text(value[0]), "y": _text(value[1])}

    def eid(self, cls: str, i: int) -> int:
        """The EdgeSimPy id of ``cls[i]``."""
        return int(self.sections[cls][i]["attributes"]["id"])

    # ------------------------------------------------------------ mapping

    def scenario(self, name: str) -> Scenario:
        """The whole dataset as a validated scenario."""
        sites, switch_site = self._sites()
        switch_of_server = self._server_switches()
        data = {
            "version": 1,
            "name": name,
            "description": self._description(),
            "sites": sites,
            "nodes": self._nodes(switch_site),
            "links": self._links(switch_site),
            "services": services_of(self, switch_of_server),
            "workload": workload_of(self),
        }
        try:
            return scenario_from_data(data, self.source)
        except ScenarioError as error:  # a path into the generated data, not the JSON file
            raise ScenarioError(
                f"the imported scenario is invalid at {format_path(error.path)}: {error.message}",
                source=self.source,
            ) from None

    def _description(self) -> str:
        counts = ", ".join(
            f"{len(self.sections[cls])} {cls}" for cls in (*REQUIRED_CLASSES, *_OPTIONAL_CLASSES)
        )
        return f"Imported from EdgeSimPy dataset {Path(self.source).name}: {counts}."

    def _sites(self) -> tuple[list[dict[str, Any]], dict[int, str]]:
        sites: list[dict[str, Any]] = []
        switch_site: dict[int, str] = {}
        for i in range(len(self.sections["BaseStation"])):
            site_id = f"bs-{self.eid('BaseStation', i)}"
            labels = self.coordinates("BaseStation", i)
            labels["wireless_delay_ms"] = _text(
                self.num("BaseStation", i, "wireless_delay", default=0.0)
            )
            switch = self.ref("BaseStation", i, "network_switch", "NetworkSwitch")
            if switch is not None:
                if switch in switch_site:
                    self.fail(
                        ("BaseStation", i, "relationships", "network_switch"),
                        f"switch already belongs to {switch_site[switch]}",
                        switch,
                    )
                switch_site[switch] = site_id
                labels["switch"] = str(switch)
            sites.append({"id": site_id, "tier": "edge", "labels": labels})
        for i in range(len(self.sections["NetworkSwitch"])):
            switch = self.eid("NetworkSwitch", i)
            if switch not in switch_site:
                station = self.ref("NetworkSwitch", i, "base_station", "BaseStation")
                if station is not None:
                    switch_site[switch] = f"bs-{station}"
                    continue
                switch_site[switch] = f"sw-{switch}"
                labels = {**self.coordinates("NetworkSwitch", i), "switch": str(switch)}
                sites.append({"id": f"sw-{switch}", "tier": "edge", "labels": labels})
        return sites, switch_site

    def _server_switches(self) -> dict[int, int]:
        """Each server's switch (its base station's when it names none)."""
        switches: dict[int, int] = {}
        for i in range(len(self.sections["EdgeServer"])):
            switch = self.ref("EdgeServer", i, "network_switch", "NetworkSwitch")
            station = self.ref("EdgeServer", i, "base_station", "BaseStation")
            if switch is None and station is not None:
                row = self.index["BaseStation"][station]
                switch = self.ref("BaseStation", row, "network_switch", "NetworkSwitch")
            if switch is not None:
                switches[self.eid("EdgeServer", i)] = switch
        return switches

    def _nodes(self, switch_site: Mapping[int, str]) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = []
        cls = "EdgeServer"
        for i, entry in enumerate(self.sections[cls]):
            station = self.ref(cls, i, "base_station", "BaseStation")
            switch = self.ref(cls, i, "network_switch", "NetworkSwitch")
            if station is not None:
                site = f"bs-{station}"
            elif switch is not None:
                site = switch_site[switch]
            else:
                self.fail((cls, i, "relationships"), "needs a base_station or network_switch")
            cores = self.num(cls, i, "cpu")
            if not cores.is_integer():
                self.fail((cls, i, "attributes", "cpu"), "should be a whole number of cores", cores)
            peak = self.num(cls, i, "power_model_parameters", "max_power_consumption", default=0.0)
            share = self.num(
                cls, i, "power_model_parameters", "static_power_percentage", default=0.0
            )
            idle_w = share * peak
            if share > 1:  # the builders' watts (module docstring)
                idle_w = share
                if share > peak:
                    path = (cls, i, "attributes", "power_model_parameters")
                    self.fail(
                        (*path, "static_power_percentage"),
                        f"should be a fraction in [0, 1] or watts up to max_power_consumption"
                        f" ({peak:g})",
                        share,
                    )
            labels: dict[str, str] = {}
            model = entry["attributes"].get("model_name")
            if isinstance(model, str) and model:
                labels["model"] = model
            power_model = entry["relationships"].get("power_model")
            if isinstance(power_model, str) and power_model:
                labels["power_model"] = power_model
            node: dict[str, Any] = {
                "id": f"es-{self.eid(cls, i)}",
                "site": site,
                "arch": "x86",
                "cpu_cores": int(cores),
                "mem_gib": self.num(cls, i, "memory") / 1024,
                "storage_gib": self.num(cls, i, "disk", default=0.0) / 1024,
                "cpu_peak_gflops": {p.value: r * cores for p, r in CPU_GFLOPS_PER_CORE.items()},
                "idle_power_w": min(peak, round(idle_w, 3)),  # no float noise in dumps
                "peak_power_w": peak,
            }
            if labels:
                node["labels"] = labels
            nodes.append(node)
        return nodes

    def _links(self, switch_site: Mapping[int, str]) -> list[dict[str, Any]]:
        links: list[dict[str, Any]] = []
        cls = "NetworkLink"
        for i in range(len(self.sections[cls])):
            path: _Path = (cls, i, "relationships", "nodes")
            ends = self.refs(cls, i, "nodes", "NetworkSwitch")
            if len(ends) != 2:
                self.fail(path, "should name exactly two NetworkSwitch entries", ends)
            a, b = switch_site[ends[0]], switch_site[ends[1]]
            if a == b:
                self.fail(path, f"both ends are at site {a}; a link must join two sites", ends)
            bandwidth = self.num(cls, i, "bandwidth")
            if bandwidth <= 0:
                self.fail((cls, i, "attributes", "bandwidth"), "should be positive", bandwidth)
            links.append(
                {
                    "id": f"nl-{self.eid(cls, i)}",
                    "a": a,
                    "b": b,
                    "bandwidth_mbps": bandwidth * MBPS_PER_EDGESIMPY_BANDWIDTH,
                    "latency_ms": self.num(cls, i, "delay"),
                }
            )
        return links


def _is_number(value: Any) -> bool:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return ok and math.isfinite(value)


def _text(value: float) -> str:
    """A number as label text: ``3`` rather than ``3.0``."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _kind(entry: Any, part: str) -> str:
    if not isinstance(entry, dict):
        return type(entry).__name__
    return "nothing" if part not in entry else type(entry[part]).__name__
