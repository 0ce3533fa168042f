"""Graph files for ``suanwang graph``: YAML or JSON read into a ``TaskGraph``, every field checked.

The format is in ``suanwang.cli.graph``'s docstring; stage fields are those of
``suanwang.model.graph.Stage`` (with ``kind``, ``reduction_ratio``, ``along_path`` and
``datasets``), the graph's those of ``TaskGraph`` (with ``along_path``). Each error names the
file and the field path. A stage may also name the tenant's code (``artefact``, ``entry``,
``inputs``) for ``graph run``, which the server checks; placing the graph does not read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from suanwang.model.graph import Edge, Stage, TaskGraph

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Largest graph file read."""
_GRAPH_KEYS = {
    "id",
    "ingress_site",
    "latency_budget_ms",
    "budget",
    "tenant",
    "along_path",
    "stages",
    "edges",
}
_STAGE_NUMBERS = ("work_gflop", "cpu_cores", "mem_gib", "input_mb", "result_mb")
_STAGE_KEYS = {
    "id",
    "precision",
    "accelerator",
    "task_class",
    "kind",
    "reduction_ratio",
    "along_path",
    "datasets",
    *_STAGE_NUMBERS,
    *("artefact", "entry", "inputs"),  # the code ``graph run`` runs; placing does not read it
}
_EDGE_KEYS = {"src", "dst", "data_mb", "reduction_ratio"}
_ACCELERATOR_KEYS = {"kind", "count", "min_mem_gib"}


class GraphFileError(ValueError):
    """A graph file that cannot be read; the message names the file and the field path."""


def _mapping(value: Any, where: str, keys: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise GraphFileError(f"{where}: expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(map(str, value)) - keys)
    if unknown:
        raise GraphFileError(f"{where}: unknown field {unknown[0]!r}; known: {sorted(keys)}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GraphFileError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise GraphFileError(f"{where}: expected text, got {value!r}")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise GraphFileError(f"{where}: expected true or false, got {value!r}")
    return value


def _stage_extras(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The stage fields of in-network and along-path computing and of data locality."""
    from suanwang.model.graph import StageKind  # noqa: PLC0415

    fields: dict[str, Any] = {}
    if "kind" in data:
        try:
            fields["kind"] = StageKind(data["kind"])
        except ValueError:
            known = [str(member) for member in StageKind]
            raise GraphFileError(
                f"{where}.kind: expected one of {known}, got {data['kind']!r}"
            ) from None
    if data.get("reduction_ratio") is not None:
        fields["reduction_ratio"] = _number(data["reduction_ratio"], f"{where}.reduction_ratio")
    if "along_path" in data:
        fields["along_path"] = _flag(data["along_path"], f"{where}.along_path")
    if "datasets" in data:
        names = data["datasets"]
        if not isinstance(names, list):
            raise GraphFileError(f"{where}.datasets: expected a list of dataset ids, got {names!r}")
        fields["datasets"] = tuple(
            _text(name, f"{where}.datasets[{i}]") for i, name in enumerate(names)
        )
    return fields


def _stage(value: Any, where: str) -> Stage:
    from suanwang.model import AcceleratorKind, AcceleratorNeed, Precision, TaskClass  # noqa: PLC0415
    from suanwang.model.graph import Stage  # noqa: PLC0415

    data = _mapping(value, where, _STAGE_KEYS)
    fields: dict[str, Any] = {"id": _text(data.get("id"), f"{where}.id")}
    fields["work_gflop"] = _number(data.get("work_gflop"), f"{where}.work_gflop")
    for name in _STAGE_NUMBERS[1:]:
        if name in data:
            fields[name] = _number(data[name], f"{where}.{name}")
    for name, kind in (("precision", Precision), ("task_class", TaskClass)):
        if name in data:
            try:
                fields[name] = kind(data[name])
            except ValueError:
                known = [str(member) for member in kind]
                raise GraphFileError(
                    f"{where}.{name}: expected one of {known}, got {data[name]!r}"
                ) from None
    if data.get("accelerator") is not None:
        need = _mapping(data["accelerator"], f"{where}.accelerator", _ACCELERATOR_KEYS)
        try:
            kind_of = AcceleratorKind(str(need.get("kind")))
        except ValueError:
            known = [str(member) for member in AcceleratorKind]
            raise GraphFileError(
                f"{where}.accelerator.kind: expected one of {known}, got {need.get('kind')!r}"
            ) from None
        count = _number(need.get("count", 1), f"{where}.accelerator.count")
        if count != int(count) or count < 1:
            raise GraphFileError(f"{where}.accelerator.count: expected a whole number >= 1")
        memory = _number(need.get("min_mem_gib", 0.0), f"{where}.accelerator.min_mem_gib")
        fields["accelerator"] = AcceleratorNeed(kind_of, int(count), memory)
    fields.update(_stage_extras(data, where))
    return Stage(**fields)


def _edge(value: Any, where: str) -> Edge:
    from suanwang.model.graph import Edge  # noqa: PLC0415

    data = _mapping(value, where, _EDGE_KEYS)
    ratio = data.get("reduction_ratio")
    return Edge(
        _text(data.get("src"), f"{where}.src"),
        _text(data.get("dst"), f"{where}.dst"),
        _number(data.get("data_mb", 0.0), f"{where}.data_mb"),
        None if ratio is None else _number(ratio, f"{where}.reduction_ratio"),
    )


def graph_from_data(data: Any) -> TaskGraph:
    """The task graph of a decoded graph document (module docstring).

    Raises:
        GraphFileError: A field of the wrong shape or type, named by its path.
        suanwang.model.graph.GraphError: An invariant of the graph (cycle, unknown stage...).
    """
    from suanwang.model.graph import TaskGraph  # noqa: PLC0415

    doc = _mapping(data, "graph", _GRAPH_KEYS)
    stages, edges = doc.get("stages"), doc.get("edges", [])
    if not isinstance(stages, list) or not isinstance(edges, list):
        raise GraphFileError("graph: stages and edges must be lists")
    optional: dict[str, Any] = {}
    for name in ("latency_budget_ms", "budget"):
        if doc.get(name) is not None:
            optional[name] = _number(doc[name], name)
    for name in ("ingress_site", "tenant"):
        if doc.get(name) is not None:
            optional[name] = _text(doc[name], name)
    if "along_path" in doc:
        optional["along_path"] = _flag(doc["along_path"], "along_path")
    return TaskGraph(
        _text(doc.get("id"), "id"),
        tuple(_stage(stage, f"stages[{i}]") for i, stage in enumerate(stages)),
        tuple(_edge(edge, f"edges[{i}]") for i, edge in enumerate(edges)),
        **optional,
    )


def read_graph(path: Path) -> TaskGraph:
    """The task graph in the YAML or JSON file ``path``.

    Raises:
        GraphFileError: Unreadable, too large, not YAML, or a field is wrong (with its path).
        suanwang.model.graph.GraphError: An invariant of the graph is broken.
    """
    import yaml  # noqa: PLC0415

    from suanwang.model.graph import GraphError  # noqa: PLC0415

    try:
        if not path.is_file():
            raise GraphFileError(f"{path}: not a readable file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise GraphFileError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return graph_from_data(data)
    except yaml.MarkedYAMLError as error:
        line = "" if error.problem_mark is None else f":{error.problem_mark.line + 1}"
        raise GraphFileError(f"{path}{line}: {error.problem or 'not YAML'}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise GraphFileError(f"{path}: {' '.join(str(error).split())}") from None
    except (GraphFileError, GraphError) as error:
        if str(error).startswith(str(path)):
            raise
        raise GraphFileError(f"{path}: {error}") from None
