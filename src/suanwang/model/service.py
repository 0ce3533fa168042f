"""Services (CS-ID) and their instances (CSCI-ID), in the IETF CATS sense."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

ServiceId = NewType("ServiceId", str)
"""CATS service identifier (CS-ID): names a service independently of where it runs."""

InstanceId = NewType("InstanceId", str)
"""CATS service contact instance identifier (CSCI-ID): one reachable instance of a service."""


@dataclass(frozen=True, slots=True)
class ServiceInstance:
    """One deployed instance of a service on a node.

    Attributes:
        id: CSCI-ID, unique within the catalogue.
        node_id: Node that runs the instance.
        ready_s: Simulated time (s) from which it serves, e.g. once its image is pulled; the
            twin's catalogue counts it from then, live catalogues count it at once.
    """

    id: InstanceId
    node_id: str
    ready_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Service:
    """A service users address by CS-ID; requests go to one of its instances.

    Attributes:
        id: CS-ID, unique within the catalogue.
        name: Human name.
        task_type: Workload task type that requests to this service carry, if any.
        instances: Deployed instances (may be empty: the brain may place new ones).
    """

    id: ServiceId
    name: str = ""
    task_type: str | None = None
    instances: tuple[ServiceInstance, ...] = ()

    def __post_init__(self) -> None:
        ids = [instance.id for instance in self.instances]
        if len(ids) != len(set(ids)):
            raise ValueError(f"service {self.id!r} lists an instance id twice")
