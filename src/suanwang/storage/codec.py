"""Tasks to JSON-ready data and back, losslessly: what the SQL adapter keeps in its JSON columns.

Encoding walks the dataclass fields, so a field added to ``TaskSpec`` is stored without a change
here; decoding fills fields missing from older rows with their defaults and refuses keys it does
not know rather than dropping data silently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any

from suanwang.model import (
    AcceleratorKind,
    AcceleratorNeed,
    Estimate,
    Placement,
    Precision,
    TaskClass,
    TaskSpec,
    TaskState,
    Transition,
    TrustLevel,
)

JsonDict = dict[str, Any]


def _plain(value: object) -> object:
    """One field value as JSON data; sets are sorted so equal specs encode equally."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def _accelerator(data: Any) -> AcceleratorNeed | None:
    if data is None:
        return None
    return AcceleratorNeed(AcceleratorKind(data["kind"]), data["count"], data["min_mem_gib"])


# Decoders for the fields whose JSON form is not already the Python value.
_SPEC_DECODERS: dict[str, Callable[[Any], object]] = {
    "precision": Precision,
    "accelerator": _accelerator,
    "task_class": TaskClass,
    "residency": tuple,
    "avoid_sites": tuple,
    "data_tags": frozenset,
    "min_trust_level": TrustLevel,
    "inputs": tuple,
    "datasets": tuple,
}


def _from_fields(cls: type[Any], data: Mapping[str, Any], decoders: Mapping[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"stored {cls.__name__} has unknown fields {sorted(unknown)}")
    kwargs = {
        name: decoders[name](value) if name in decoders else value for name, value in data.items()
    }
    return cls(**kwargs)


def spec_to_json(spec: TaskSpec) -> JsonDict:
    """A task spec as JSON data."""
    data = _plain(spec)
    assert isinstance(data, dict)
    return data


def spec_from_json(data: Mapping[str, Any]) -> TaskSpec:
    """The task spec ``spec_to_json`` encoded.

    Raises:
        ValueError: the data names a field ``TaskSpec`` does not have, or breaks an invariant.
    """
    spec: TaskSpec = _from_fields(TaskSpec, data, _SPEC_DECODERS)
    return spec


def placement_to_json(placement: Placement | None) -> JsonDict | None:
    """A placement as JSON data (None stays None), as the generic walk ``_plain`` gives it.

    Written out field by field: every committed placement passes here, and the generic walk
    (``dataclasses.fields`` and a type test per value) cost several times as much. A field
    added to ``Placement`` or ``Estimate`` must be added here; a test compares the two.
    """
    if placement is None:
        return None
    e = placement.estimate
    return {
        "task_id": placement.task_id,
        "node_id": placement.node_id,
        "path": list(placement.path),
        "segments": list(placement.segments),
        "reserved_bandwidth_mbps": placement.reserved_bandwidth_mbps,
        "estimate": {
            "network_ms": e.network_ms,
            "queueing_ms": e.queueing_ms,
            "compute_ms": e.compute_ms,
            "cost": e.cost,
            "energy_kwh": e.energy_kwh,
            "carbon_g": e.carbon_g,
            "fixed_ms": e.fixed_ms,
        },
        "instance_id": placement.instance_id,
    }


def placement_from_json(data: Mapping[str, Any] | None) -> Placement | None:
    """The placement ``placement_to_json`` encoded."""
    if data is None:
        return None
    decoders: dict[str, Callable[[Any], object]] = {
        "path": tuple,
        "segments": tuple,
        "estimate": lambda d: _from_fields(Estimate, d, {}),
    }
    placement: Placement = _from_fields(Placement, data, decoders)
    return placement


def history_to_json(history: tuple[Transition, ...]) -> list[JsonDict]:
    """A task's history as a list of JSON objects, oldest step first."""
    out: list[JsonDict] = []
    for step in history:
        encoded: JsonDict = {
            "from_state": None if step.from_state is None else step.from_state.value,
            "to_state": step.to_state.value,
            "at_s": step.at_s,
            "reason": step.reason,
        }
        if step.node_id is not None:  # only steps that begin a run carry one
            encoded["node_id"] = step.node_id
        out.append(encoded)
    return out


def history_from_json(data: Sequence[Mapping[str, Any]]) -> tuple[Transition, ...]:
    """The history ``history_to_json`` encoded."""
    return tuple(
        Transition(
            None if step["from_state"] is None else TaskState(step["from_state"]),
            TaskState(step["to_state"]),
            float(step["at_s"]),
            step["reason"],
            step.get("node_id"),  # absent in steps stored before nodes were recorded
        )
        for step in data
    )
