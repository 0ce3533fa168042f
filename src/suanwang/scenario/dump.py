"""Writing a scenario back as plain data in file format version 1.

Every value that differs from its default is stated, and nothing else, so that
``load -> dump -> load`` gives an equal scenario and dumps stay short enough to read.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, TypeVar

from suanwang.model import (
    Arrivals,
    EnergyProfile,
    NetworkElement,
    Node,
    Scenario,
    Service,
    Site,
    TaskType,
)
from suanwang.scenario.schema import FORMAT_VERSION

_T = TypeVar("_T")


@functools.cache
def _defaults(record_type: type) -> tuple[tuple[str, Any], ...]:
    """(field name, default or MISSING) of a dataclass type, computed once per type."""
    out = []
    for field in dataclasses.fields(record_type):
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = dataclasses.MISSING
        out.append((field.name, default))
    return tuple(out)


def _non_default(record: object, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Fields of a dataclass record that differ from their defaults, as plain data."""
    data: dict[str, Any] = {}
    record_type: Any = type(record)
    for name, default in _defaults(record_type):
        if name in skip:
            continue
        value = getattr(record, name)
        if value != default:
            data[name] = _plain(value)
    return data


def _plain(value: Any) -> Any:
    """Domain values as YAML/JSON-ready data (enums as values, tuples as lists)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _non_default(value)
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    raise TypeError(f"cannot write {type(value).__name__} to a scenario file")


def _energy_data(profile: EnergyProfile, named: Mapping[str, EnergyProfile]) -> Any:
    if profile.name:
        if named.get(profile.name) != profile:
            # Written inline it would come back nameless: refuse rather than lose the name.
            raise ValueError(
                f"energy profile {profile.name!r} is used by a site but not registered "
                "(with the same values) in the scenario's energy_profiles"
            )
        return profile.name
    return _non_default(dataclasses.replace(profile, name=""), skip=("name",))


def _each(
    records: Mapping[str, _T] | tuple[_T, ...], write: Callable[[_T], dict[str, Any]]
) -> list[dict[str, Any]]:
    values = records.values() if isinstance(records, Mapping) else records
    return [write(record) for record in values]


def _site(record: Site, named: Mapping[str, EnergyProfile]) -> dict[str, Any]:
    data = _non_default(record, skip=("energy", "labels"))
    if record.energy != EnergyProfile():
        data["energy"] = _energy_data(record.energy, named)
    if record.labels:
        data["labels"] = dict(record.labels)
    return data


def _node(record: Node) -> dict[str, Any]:
    data = _non_default(record, skip=("site_id", "labels"))
    data = {"id": data.pop("id"), "site": record.site_id, **data}
    if record.labels:
        data["labels"] = dict(record.labels)
    return data


def _element(record: NetworkElement) -> dict[str, Any]:
    data = _non_default(record, skip=("site_id",))
    if record.site_id is not None:
        data["site"] = record.site_id
    return data


def _service(record: Service) -> dict[str, Any]:
    data = _non_default(record, skip=("instances",))
    if record.instances:
        data["instances"] = [
            {"id": i.id, "node": i.node_id, **({"ready_s": i.ready_s} if i.ready_s else {})}
            for i in record.instances
        ]
    return data


def _task_type(record: TaskType) -> dict[str, Any]:
    spec = _non_default(record.spec, skip=("task_type", "service_id", "task_class", "ingress_site"))
    data: dict[str, Any] = {"name": record.name}
    if record.description:
        data["description"] = record.description
    data["class"] = record.spec.task_class.value
    data.update(spec)
    if record.spec.service_id is not None:
        data["service"] = record.spec.service_id
    return data


def _arrivals(record: Arrivals) -> dict[str, Any]:
    data = _non_default(record, skip=("ingress",))
    data = {"task_type": data.pop("task_type"), **data}
    if record.ingress:
        data["ingress"] = dict(record.ingress)
    return data


def scenario_to_data(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain data in file format version 1 (ready for YAML or JSON)."""
    topology = scenario.topology
    named = scenario.energy_profiles
    workload = scenario.workload
    workload_data: dict[str, Any] = _non_default(workload, skip=("task_types", "arrivals"))
    if workload.task_types:
        workload_data["task_types"] = _each(workload.task_types, _task_type)
    if workload.arrivals:
        workload_data["arrivals"] = _each(workload.arrivals, _arrivals)

    data: dict[str, Any] = {"version": FORMAT_VERSION, "name": scenario.name}
    if scenario.description:
        data["description"] = scenario.description
    data["energy_profiles"] = {
        name: _non_default(dataclasses.replace(p, name=""), skip=("name",))
        for name, p in named.items()
    }
    data["sites"] = _each(topology.sites, lambda site: _site(site, named))
    data["nodes"] = _each(topology.nodes, _node)
    data["elements"] = _each(topology.elements, _element)
    data["links"] = _each(topology.links, _non_default)
    data["services"] = _each(scenario.services, _service)
    data["datasets"] = _each(topology.datasets, _non_default)
    data["data_policies"] = {
        tag: _non_default(policy, skip=("tag",)) for tag, policy in topology.data_policies.items()
    }
    data["workload"] = workload_data
    data["failures"] = [_non_default(failure) for failure in scenario.failures]
    return {key: value for key, value in data.items() if value not in ({}, [])}
