"""A template's components as deployments: what each connection and policy asks of a replica.

The rules (``scenario.template`` holds the format):

* a component reached from the users enters the network at the connection's ``ingress_site``
  with the connection's latency budget: the estimate the scheduler checks is a request's whole
  time from there;
* a component reached through another enters where that one does, with the sum of the budgets
  along the way: the whole time from the users to it; reached along several ways, the
  tightest sum holds;
* the bandwidth of the connections into a component (summed) is the rate its replicas reserve
  on their path: each request carries the data that this rate moves in the share of the budget
  the scheduler gives a transfer (``scheduling.cycle.required_bandwidth_mbps``), as
  ``data_in_mb``; the task's own ``data_out_mb`` comes on top;
* the task's ``datasets`` are its replicas' input datasets (the scheduler's data locality);
* ``policies.residency`` becomes the replicas' residency, ``policies.trust`` their least node
  trust level; ``replicas`` a fixed count (minimum = maximum), ``autoscale`` the bounds.
"""

from __future__ import annotations

import graphlib

from suanwang.control.autoscale import ScalePolicy
from suanwang.model import AcceleratorNeed, TaskSpec, TrustLevel
from suanwang.scenario.template import USERS, ComponentDoc, TemplateDoc
from suanwang.scheduling.cycle import MB_BITS, TRANSFER_SHARE_OF_BUDGET
from suanwang.service.deployments import Deployment


def deployment_name(template: str, component: str) -> str:
    """The deployment a template's component runs as: ``<template>/<component>``."""
    return f"{template}/{component}"


def _reach(doc: TemplateDoc) -> dict[str, tuple[str, float, float]]:
    """Per connected component: (ingress site, latency budget in ms, inbound bandwidth Mbps)."""
    order = graphlib.TopologicalSorter[str]()
    for conn in doc.connections:
        order.add(conn.to, *([] if conn.source == USERS else [conn.source]))
    found: dict[str, tuple[str, float, float]] = {}
    for name in order.static_order():  # the format admits no cycle
        inbound = [conn for conn in doc.connections if conn.to == name]
        if not inbound:
            continue
        ways: list[tuple[str, float]] = []
        for conn in inbound:
            if conn.source == USERS:
                assert conn.ingress_site is not None  # the format requires it
                site, before_ms = conn.ingress_site, 0.0
            else:
                site, before_ms, _ = found[conn.source]  # reached from users: the format says
            ways.append((site, before_ms + conn.latency_budget_ms))
        band_mbps = sum(conn.bandwidth_mbps or 0.0 for conn in inbound)
        found[name] = (ways[0][0], min(budget_ms for _, budget_ms in ways), band_mbps)
    return found


def component_spec(component: ComponentDoc, reach: tuple[str, float, float] | None) -> TaskSpec:
    """A replica's task spec: the component's task with its connections and policies applied.

    Raises:
        ValueError: a figure breaks a task spec's invariant (the message names the field).
    """
    task = component.task
    ingress, budget_ms, data_in_mb = task.ingress_site, task.latency_budget_ms, task.data_in_mb
    if reach is not None:
        ingress, budget_ms, band_mbps = reach
        if band_mbps > 0:
            data_mbit = band_mbps * budget_ms / 1000.0 * TRANSFER_SHARE_OF_BUDGET
            data_in_mb = data_mbit * 1e6 / MB_BITS
    accelerator = task.accelerator
    return TaskSpec(
        work_gflop=task.work_gflop,
        precision=task.precision,
        cpu_cores=task.cpu_cores,
        mem_gib=task.mem_gib,
        accelerator=None
        if accelerator is None
        else AcceleratorNeed(accelerator.kind, accelerator.count, accelerator.min_mem_gib),
        data_in_mb=data_in_mb,
        data_out_mb=task.data_out_mb,
        ingress_site=ingress,
        latency_budget_ms=budget_ms,
        task_class=task.task_class,
        budget=task.budget,
        residency=tuple(component.policies.residency),
        data_tags=frozenset(task.data_tags),
        min_trust_level=TrustLevel(component.policies.trust),
        task_type=task.task_type,
        long_running=True,
        fixed_latency_ms=task.fixed_latency_ms,
        artefact=task.artefact,
        entry=task.entry,
        inputs=tuple(task.inputs),
        datasets=tuple(task.datasets),
    )


def component_policy(component: ComponentDoc) -> ScalePolicy:
    """The component's scaling: a fixed count, or its autoscale bounds and target."""
    if component.replicas is not None:
        return ScalePolicy(component.replicas, component.replicas)
    bounds = component.autoscale
    assert bounds is not None  # the format requires one of the two
    return ScalePolicy(
        bounds.min_replicas,
        bounds.max_replicas,
        bounds.target_utilisation,
        bounds.tolerance,
        bounds.scale_down_window_s,
    )


def template_deployments(doc: TemplateDoc, tenant: str) -> dict[str, Deployment]:
    """Every component of ``doc`` as ``tenant``'s deployment, by deployment name.

    Raises:
        ValueError: a component's figures break a task spec's or a policy's invariant; the
            message starts with the component's field path.
    """
    reach = _reach(doc)
    out: dict[str, Deployment] = {}
    for name, component in doc.components.items():
        try:
            spec = component_spec(component, reach.get(name))
            policy = component_policy(component)
        except ValueError as exc:
            raise ValueError(f"components.{name}: {exc}") from None
        full = deployment_name(doc.name, name)
        out[full] = Deployment(full, tenant, spec, policy)
    return out
