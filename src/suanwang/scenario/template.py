"""The service template file format, version 1: components, their connections and policies.

A template composes long-running components into one service, opened in one request as a
deployment per component (named ``<template>/<component>``)::

    version: 1
    name: video
    components:
      detect:
        task: {work_gflop: 40, cpu_cores: 2, mem_gib: 4, datasets: [footage]}
        autoscale: {min_replicas: 1, max_replicas: 4, target_utilisation: 0.6}
        policies: {residency: [CN-GD], trust: 1}
      store:
        task: {work_gflop: 5, cpu_cores: 1}
        replicas: 2
    connections:
      - {from: users, to: detect, ingress_site: term-futian, latency_budget_ms: 40,
         bandwidth_mbps: 50}
      - {from: detect, to: store, latency_budget_ms: 20, bandwidth_mbps: 5}

A component has a fixed ``replicas`` count or ``autoscale`` bounds, never both; its task may
name the datasets it reads (ids of the topology's ``datasets``). A connection
runs from ``users`` (where they enter: ``ingress_site``) or from a component, to a component;
its latency budget and bandwidth become demands of the component it reaches (see
``service.template_specs``). ``read_template`` checks a text against this format; every problem
is one ``ScenarioError`` line naming file, line, field and value.
"""

from __future__ import annotations

import graphlib
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

from suanwang.model import AcceleratorKind, Precision, TaskClass, TrustLevel
from suanwang.scenario.errors import ScenarioError
from suanwang.scenario.limits import ScenarioLimits
from suanwang.scenario.parse import Parsed, parse_text
from suanwang.scenario.validate import validate_doc

TEMPLATE_VERSION = 1
MAX_TEMPLATE_BYTES = 64 * 1024
"""A template is a short document; anything longer is refused before parsing."""
MAX_COMPONENTS = 32
USERS = "users"
"""The endpoint of a connection that stands for the service's users."""
SEGMENT_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
"""A template's or a component's name: lower-case letters, digits, inner hyphens (<= 63)."""

Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:@/+-]+$")]
Number = Annotated[float, Strict()]
Amount = Annotated[Number, Field(ge=0, le=1e15)]
Positive = Annotated[Number, Field(gt=0, le=1e15)]
Count = Annotated[int, Strict(), Field(ge=1, le=1000)]
Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class AcceleratorDoc(_Doc):
    """Accelerators a replica needs on one node."""

    kind: AcceleratorKind
    count: Count = 1
    min_mem_gib: Amount = 0.0


class TaskDoc(_Doc):
    """A replica's demand: the fields of a task spec a template may set itself."""

    work_gflop: Amount
    precision: Precision = Precision.FP32
    cpu_cores: Annotated[Number, Field(ge=0, le=1e6)] = 1.0
    mem_gib: Annotated[Number, Field(ge=0, le=1e9)] = 0.5
    accelerator: AcceleratorDoc | None = None
    data_in_mb: Amount = 0.0
    data_out_mb: Amount = 0.0
    ingress_site: Name | None = None
    latency_budget_ms: Positive | None = None
    task_class: TaskClass = TaskClass.WARM
    budget: Positive | None = None
    data_tags: list[Name] = Field(default_factory=list, max_length=64)
    task_type: Name | None = None
    fixed_latency_ms: Amount = 0.0
    artefact: Digest | None = None
    entry: Name | None = None
    inputs: list[Digest] = Field(default_factory=list, max_length=64)
    datasets: list[Name] = Field(default_factory=list, max_length=64)


class AutoscaleDoc(_Doc):
    """Replica bounds and the load aimed at (``control.autoscale``)."""

    min_replicas: Count = 1
    max_replicas: Count = 1
    target_utilisation: Annotated[Number, Field(gt=0, le=1)] = 0.6
    tolerance: Annotated[Number, Field(ge=0, lt=1)] = 0.1
    scale_down_window_s: Annotated[Number, Field(ge=0, le=86_400)] = 60.0


class PoliciesDoc(_Doc):
    """Where a component may run: region patterns (residency) and the least node trust."""

    residency: list[Name] = Field(default_factory=list, max_length=64)
    trust: Annotated[int, Strict(), Field(ge=min(TrustLevel), le=max(TrustLevel))] = 0


class ComponentDoc(_Doc):
    """One component: a replica's task, its count or bounds, and its policies."""

    task: TaskDoc
    replicas: Count | None = None
    autoscale: AutoscaleDoc | None = None
    policies: PoliciesDoc = Field(default_factory=PoliciesDoc)


class ConnectionDoc(_Doc):
    """A connection from the users or a component to a component (see the module docstring)."""

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, frozen=True, populate_by_name=True
    )
    source: str = Field(alias="from", min_length=1, max_length=63)
    to: str = Field(min_length=1, max_length=63)
    latency_budget_ms: Positive
    bandwidth_mbps: Positive | None = None
    ingress_site: Name | None = None


class TemplateDoc(_Doc):
    """One template as written (see the module docstring)."""

    version: Literal[1]
    name: str = Field(min_length=1, max_length=63)
    components: dict[str, ComponentDoc] = Field(min_length=1, max_length=MAX_COMPONENTS)
    connections: list[ConnectionDoc] = Field(default_factory=list, max_length=256)

    def data(self) -> dict[str, Any]:
        """The template as plain JSON data, as it would be written (``from`` keys, no nulls)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def read_template(text: str, source: str = "<template>") -> TemplateDoc:
    """Parse and check one template (YAML or JSON text).

    Raises:
        ScenarioError: the text does not parse or breaks the format; one line with file,
            line, field and value.
    """
    limits = ScenarioLimits(max_bytes=MAX_TEMPLATE_BYTES, max_yaml_bytes=MAX_TEMPLATE_BYTES)
    parsed = parse_text(text, "yaml", source, limits)
    return template_from_data(parsed.data, source, parsed)


def template_from_data(data: Any, source: str, parsed: Parsed | None = None) -> TemplateDoc:
    """Check plain data (a parsed file or a JSON body) as a template; see ``read_template``."""
    parsed = parsed or Parsed(data)
    doc = validate_doc(TemplateDoc, parsed, source, "template")
    _Checks(doc, source, parsed).run()
    return doc


class _Checks:
    """What the types cannot say: names, one of replicas or autoscale, the connections."""

    def __init__(self, doc: TemplateDoc, source: str, parsed: Parsed) -> None:
        self.doc, self.source, self.parsed = doc, source, parsed

    def fail(self, message: str, path: tuple[str | int, ...], value: Any = None) -> ScenarioError:
        kwargs: dict[str, Any] = {} if value is None else {"value": value}
        line = self.parsed.line_of(path)
        return ScenarioError(message, path=path, source=self.source, line=line, **kwargs)

    def run(self) -> None:
        doc = self.doc
        naming = "lower-case letters, digits and inner hyphens, at most 63"
        if not SEGMENT_RE.match(doc.name):
            raise self.fail(f"a template's name is {naming}", ("name",), doc.name)
        for name, component in doc.components.items():
            path: tuple[str | int, ...] = ("components", name)
            if not SEGMENT_RE.match(name) or name == USERS:
                raise self.fail(f"a component's name is {naming}, not 'users'", path, name)
            if (component.replicas is None) == (component.autoscale is None):
                raise self.fail("give either replicas or autoscale", path)
            bounds = component.autoscale
            if bounds is not None and bounds.max_replicas < bounds.min_replicas:
                at = (*path, "autoscale", "max_replicas")
                raise self.fail(
                    f"is below min_replicas {bounds.min_replicas}", at, bounds.max_replicas
                )
        self._connections()

    def _connections(self) -> None:
        doc = self.doc
        order = graphlib.TopologicalSorter[str]()
        seen: set[tuple[str, str]] = set()
        reached: dict[str, list[tuple[str, int]]] = {}
        for i, conn in enumerate(doc.connections):
            path: tuple[str | int, ...] = ("connections", i)
            if conn.source != USERS and conn.source not in doc.components:
                raise self.fail("names no component (nor users)", (*path, "from"), conn.source)
            if conn.to not in doc.components:
                raise self.fail("names no component", (*path, "to"), conn.to)
            if conn.source == conn.to or (conn.source, conn.to) in seen:
                raise self.fail("a connection is given once, between two ends", path)
            seen.add((conn.source, conn.to))
            if (conn.source == USERS) != (conn.ingress_site is not None):
                raise self.fail("ingress_site is given exactly on connections from users", path)
            reached.setdefault(conn.to, []).append((conn.source, i))
            if conn.source != USERS:
                order.add(conn.to, conn.source)
        try:
            order.prepare()
        except graphlib.CycleError as cycle:
            raise self.fail("connections form a cycle", ("connections",), cycle.args[1]) from None
        for name, inbound in reached.items():
            task = doc.components[name].task
            path = ("components", name, "task")
            for field in ("ingress_site", "latency_budget_ms"):
                if getattr(task, field) is not None:
                    raise self.fail("set by the connections to this component", (*path, field))
            banded = any(doc.connections[i].bandwidth_mbps is not None for _, i in inbound)
            if banded and task.data_in_mb:
                raise self.fail(
                    "set by the connections' bandwidth_mbps", (*path, "data_in_mb"), task.data_in_mb
                )
        self._reach(reached)

    def _reach(self, reached: dict[str, list[tuple[str, int]]]) -> None:
        """Every connected component is reached from the users, entering at one site."""
        ingress: dict[str, str] = {}
        for name in _topological(reached):
            for source, i in reached[name]:
                conn = self.doc.connections[i]
                site = conn.ingress_site if source == USERS else ingress.get(source)
                if site is None:
                    raise self.fail(
                        "reached from no users connection: its ingress is unknown",
                        ("connections", i, "from"),
                        source,
                    )
                if ingress.setdefault(name, site) != site:
                    raise self.fail(
                        f"{name} would enter the network at {ingress[name]} and at {site}; "
                        "a component has one ingress",
                        ("connections", i),
                    )


def _topological(reached: dict[str, list[tuple[str, int]]]) -> list[str]:
    """The reached components, each after every component it is reached from."""
    order = graphlib.TopologicalSorter[str]()
    for name, inbound in reached.items():
        order.add(name, *(source for source, _ in inbound if source != USERS))
    return [name for name in order.static_order() if name in reached]
