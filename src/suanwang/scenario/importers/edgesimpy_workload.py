"""The workload of an EdgeSimPy dataset: services, applications as task types, users' arrivals.

Helpers of ``edgesimpy``'s importer, whose docstring states the mapping; the constants here
carry its choices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from suanwang.model import TaskClass
from suanwang.scenario.importers.edgesimpy_time import pull_times_s, user_stations

if TYPE_CHECKING:
    from suanwang.scenario.importers.edgesimpy import _Importer

WORK_GFLOP_PER_REQUEST = 0.05
"""Work of one request: 2.5 ms on one fp32 core of ``CPU_GFLOPS_PER_CORE``."""

HOT_SLA_MS = 30.0
"""An application whose tightest delay SLA is at most this is ``hot``, else ``warm``."""

COMPUTE_ALLOWANCE_MS = 10.0
"""Budget for the token work beyond the network: 2.5 ms at peak, 4x that for efficiency."""

MIN_BUDGET_MS = 0.1
"""Floor of a latency budget whose SLA does not even cover the wireless hop."""

RATE_PER_USER_PER_S = 1.0
"""Requests per second each EdgeSimPy user sends to its application."""


def services_of(imp: _Importer, switch_of_server: dict[int, int]) -> list[dict[str, Any]]:
    """The scenario services of the dataset's ``Service`` entries (``edgesimpy`` docstring)."""
    services: list[dict[str, Any]] = []
    pulls_s = pull_times_s(imp, switch_of_server)
    cls = "Service"
    for i, entry in enumerate(imp.sections[cls]):
        service_id = f"svc-{imp.eid(cls, i)}"
        label = entry["attributes"].get("label")
        service: dict[str, Any] = {"id": service_id, "name": label or ""}
        if not isinstance(service["name"], str):
            imp.fail((cls, i, "attributes", "label"), "should be a string", label)
        app = imp.ref(cls, i, "application", "Application")
        if app is not None:
            service["task_type"] = f"app-{app}"
        server = imp.ref(cls, i, "server", "EdgeServer")
        if server is not None:
            instance: dict[str, Any] = {
                "id": f"{service_id}@es-{server}",
                "node": f"es-{server}",
            }
            pull_s = pulls_s.get(imp.eid(cls, i), 0.0)
            if pull_s:
                instance["ready_s"] = round(pull_s, 6)
            service["instances"] = [instance]
        services.append(service)
    return services


def _wireless_ms(imp: _Importer, station: int) -> float:
    row = imp.index["BaseStation"][station]
    return imp.num("BaseStation", row, "wireless_delay", default=0.0)


def workload_of(imp: _Importer) -> dict[str, Any]:
    """Task types of the ``Application`` entries and arrivals of their users (docstring)."""
    task_types: list[dict[str, Any]] = []
    arrivals: list[dict[str, Any]] = []
    cls = "Application"
    for i, entry in enumerate(imp.sections[cls]):
        app = imp.eid(cls, i)
        services = imp.refs(cls, i, "services", "Service")
        rows = [imp.index["Service"][s] for s in services]
        label = entry["attributes"].get("label")
        task: dict[str, Any] = {
            "name": f"app-{app}",
            "description": f"EdgeSimPy application {app}" + (f" ({label})" if label else ""),
            "class": TaskClass.WARM.value,
            "work_gflop": WORK_GFLOP_PER_REQUEST,
        }
        if rows:
            task["cpu_cores"] = sum(imp.num("Service", r, "cpu_demand") for r in rows)
            task["mem_gib"] = sum(imp.num("Service", r, "memory_demand") for r in rows) / 1024
            task["service"] = f"svc-{services[0]}"
        ingress: dict[str, float] = {}
        slas: list[tuple[float, float]] = []
        for user in imp.refs(cls, i, "users", "User"):
            row = imp.index["User"][user]
            steps = user_stations(imp, row)
            for station, count in steps.items():  # one user's steps weigh one user
                site = f"bs-{station}"
                ingress[site] = ingress.get(site, 0.0) + count / steps.total()
            wireless = max(  # the slowest access hop the user meets
                (_wireless_ms(imp, station) for station in steps), default=0.0
            )
            stated = imp.sections["User"][row]["attributes"].get("delay_slas")
            if stated is not None and (not isinstance(stated, dict) or str(app) in stated):
                slas.append((imp.num("User", row, "delay_slas", str(app)), wireless))
        if slas:
            sla = min(s for s, _ in slas)
            one_way_ms = min(s - w for s, w in slas)  # left for the links (docstring)
            budget_ms = 2 * one_way_ms + COMPUTE_ALLOWANCE_MS if one_way_ms > 0 else 0.0
            task["latency_budget_ms"] = max(MIN_BUDGET_MS, budget_ms)
            if sla <= HOT_SLA_MS:
                task["class"] = TaskClass.HOT.value
        task_types.append(task)
        if ingress:
            arrivals.append(
                {
                    "task_type": task["name"],
                    "kind": "poisson",
                    "rate_per_s": RATE_PER_USER_PER_S * round(sum(ingress.values()), 9),
                    "ingress": {site: round(w, 9) for site, w in ingress.items()},
                }
            )
    return {"task_types": task_types, "arrivals": arrivals}
