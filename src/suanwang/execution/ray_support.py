"""What the Ray engine and the local Ray cluster share: importing Ray, the node mapping, the task.

A Ray node stands for the suanwang nodes whose custom resource ``suanwang-node:<node id>`` it
advertises (``node_resource``); ``discover_node_map`` reads that map from a cluster's live nodes.
``run_pinned`` is the body of every kind's Ray task. Ray is imported by name (``import_ray``): it
is the optional extra ``suanwang[ray]``.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from suanwang.execution.kinds import Work, WorkOutcome, run_work

RESOURCE_PREFIX = "suanwang-node:"
"""Prefix of the custom resource by which a Ray node names a suanwang node it stands for."""
LOOPBACK = "127.0.0.1"
_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
_LOOPBACK_FLAG = "ENABLE_RAY_CLUSTER"


class RayUnavailableError(RuntimeError):
    """Ray is not installed (the ``ray`` extra)."""


def import_ray(*, loopback: bool = False) -> Any:
    """The ``ray`` module, imported on first use.

    Imported by name so that type checking and the rest of suanwang do not depend on the
    optional extra; everything from Ray stays ``Any`` behind this boundary.

    Args:
        loopback: Ray will run on this machine's loopback only. Ray reads at import whether
            "127.0.0.1" means loopback (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``) or this
            machine's outside address; the variable is set (unless set otherwise) for this
            process and the Ray processes it starts, and a Ray imported earlier without it is
            told the same through the flag it read the variable into.

    Raises:
        RayUnavailableError: Ray is not installed.
        RuntimeError: ``loopback`` is asked for while the variable is set to something else.
    """
    if loopback and os.environ.setdefault(_LOOPBACK_ENV, "0") != "0":
        raise RuntimeError(f"a loopback Ray cluster needs {_LOOPBACK_ENV}=0")
    try:
        ray = importlib.import_module("ray")
    except ImportError:
        raise RayUnavailableError("the Ray engine needs Ray: pip install 'suanwang[ray]'") from None
    constants = sys.modules.get("ray._private.ray_constants")
    if loopback and getattr(constants, _LOOPBACK_FLAG, False):
        setattr(constants, _LOOPBACK_FLAG, False)  # ray was imported before the variable was set
    return ray


def is_loopback(address: str | None) -> bool:
    """True for no address (a local instance) or one on 127.0.0.0/8 or localhost."""
    if address is None:
        return True
    host = address.removeprefix("ray://").rpartition(":")[0] or address
    return host == "localhost" or host.startswith("127.")


def node_resource(node_id: str) -> str:
    """The custom resource by which a Ray node stands for suanwang node ``node_id``."""
    return RESOURCE_PREFIX + node_id


def discover_node_map(ray: Any) -> dict[str, str]:
    """Suanwang node id -> Ray node id, read from the resources of the cluster's live nodes.

    Raises:
        ValueError: A suanwang node is advertised by two Ray nodes.
    """
    found: dict[str, str] = {}
    for node in ray.nodes():
        if not node.get("Alive", False):
            continue
        for resource in node.get("Resources", {}):
            if resource.startswith(RESOURCE_PREFIX):
                node_id = resource.removeprefix(RESOURCE_PREFIX)
                if node_id in found and found[node_id] != node["NodeID"]:
                    raise ValueError(f"suanwang node {node_id!r} is on two Ray nodes")
                found[node_id] = str(node["NodeID"])
    return found


def run_pinned(kind: str, work: Work, allow_user_functions: bool) -> WorkOutcome:
    """Body of the Ray task: run the kind and say which Ray node ran it."""
    outcome = run_work(kind, work, allow_user_functions)
    node = import_ray().get_runtime_context().get_node_id()
    return WorkOutcome(outcome.result, outcome.compute_s, outcome.started_at_s, str(node))
