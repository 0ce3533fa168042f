"""Execution side: agents, engines and the probes that talk over the network.

Engines implement the ``ExecutionEngine`` port (``suanwang.control.ports``): ``LocalEngine``
runs tasks on this machine's worker processes (the embedded default), ``RayEngine`` on a Ray
cluster with each task pinned to its node's Ray node, and ``AgentDispatch`` (the
``PullDispatch`` port) hands them to the node agents (``agent``) that pull their node's tasks.
They run the real work of a task's kind (``kinds``); the local and Ray engines record the
measured compute time next to the estimate (``RunRecord``), and ``EfficiencyFeedback`` turns
such records into a corrected ``EfficiencyTable``.
"""

from suanwang.execution.dispatch import AgentDispatch
from suanwang.execution.feedback import EfficiencyFeedback, Gap
from suanwang.execution.kinds import (
    BUILTIN_KINDS,
    Kind,
    KindError,
    Work,
    WorkOutcome,
    resolve_kind,
    run_work,
    select_kind,
)
from suanwang.execution.local import LocalEngine
from suanwang.execution.ray_cluster import LocalRayCluster
from suanwang.execution.ray_engine import RayEngine, RayUnavailableError, node_resource
from suanwang.execution.runbook import RunRecord

__all__ = [
    "BUILTIN_KINDS",
    "AgentDispatch",
    "EfficiencyFeedback",
    "Gap",
    "Kind",
    "KindError",
    "LocalEngine",
    "LocalRayCluster",
    "RayEngine",
    "RayUnavailableError",
    "RunRecord",
    "Work",
    "WorkOutcome",
    "node_resource",
    "resolve_kind",
    "run_work",
    "select_kind",
]
