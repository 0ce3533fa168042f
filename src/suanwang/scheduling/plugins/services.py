"""The CS-ID filter: a task that names a service runs only where an instance of it runs.

Part of the policy stage (``scheduler.MANDATORY_FILTERS``), so no profile can leave it out;
the profile's scores then choose among the instances' nodes, and the scheduler names the
chosen instance (CSCI-ID) on the placement. It reads the cycle state's ``catalogue``; a state
without one (plans, the twin) resolves nothing and lets every node pass.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from suanwang.scheduling.catalogue import is_function_path
from suanwang.scheduling.cycle import Cycle
from suanwang.scheduling.framework import SUCCESS, BoolArray, Code, Stage, Status

_NAMED = 8  # instance nodes named in a refusal's reason


class ServiceInstances:
    """Only nodes that host an instance of the task's service (CS-ID -> CSCI-ID).

    As a PreFilter, a ``service_id`` that is neither in the catalogue nor a user function's
    path is an ERROR naming it (retrying cannot help); as a Filter such a task passes no node.
    """

    name = "service-instances"
    stage: ClassVar[Stage] = Stage.PRE_ROUTE

    def pre_filter(self, cycle: Cycle) -> Status:
        """ERROR naming a ``service_id`` the catalogue does not hold; else SUCCESS."""
        service_id, catalogue = cycle.spec.service_id, cycle.state.catalogue
        if service_id is None or catalogue is None or catalogue.knows(service_id):
            return SUCCESS
        if is_function_path(service_id):
            return SUCCESS
        known = ", ".join(sorted(catalogue.services)[:_NAMED]) or "none"
        reason = f"service_id: {service_id!r} names no service of the catalogue (known: {known})"
        return Status(Code.ERROR, reason, self.name)

    def filter(self, cycle: Cycle) -> BoolArray:
        """Nodes hosting an instance (every node when nothing is to be resolved)."""
        service_id, state = cycle.spec.service_id, cycle.state
        catalogue = state.catalogue
        if service_id is None or catalogue is None or is_function_path(service_id):
            return state.everyone()
        if not catalogue.knows(service_id):
            return np.zeros(len(state.arrays.node_ids), dtype=bool)
        hosts = catalogue.hosts(service_id)
        return state.everyone() if hosts is None else hosts

    def explain(self, cycle: Cycle, node: int) -> str:
        """The service and the nodes its instances run on."""
        service_id, catalogue = cycle.spec.service_id, cycle.state.catalogue
        if catalogue is None or service_id is None or not catalogue.knows(service_id):
            return f"service_id {service_id!r} names no service of the catalogue"
        node_id = cycle.state.arrays.node_ids[node]
        pending_s = catalogue.pending_on(service_id, node_id)
        if pending_s is not None:
            return f"the instance of service {service_id} here serves from t = {pending_s:g} s"
        nodes = catalogue.instance_nodes(service_id)
        shown = ", ".join(nodes[:_NAMED]) + (", ..." if len(nodes) > _NAMED else "")
        return f"no instance of service {service_id} runs here (instances on: {shown})"

    def never(self, cycle: Cycle) -> BoolArray:
        """The nodes it rejects: where instances run does not change with the load."""
        return ~np.asarray(self.filter(cycle), dtype=bool)
