"""The service catalogue a scheduling cycle resolves CS-IDs against (IETF CATS).

A task that names a service (``TaskSpec.service_id``, a CS-ID) may run only where one of that
service's instances (CSCI-IDs) is deployed; the scores choose among those nodes, and the
placement names the instance on the chosen node (``Placement.instance_id``). A service that
lists no instance may run anywhere (a new instance is placed with the task). An instance serves
from its ``ready_s`` on the catalogue's clock (``now_s``): the twin advances it with simulated
time, so an instance still pulling its image hosts nothing yet; a catalogue that is never
advanced (live, plans) counts every instance at once. A ``service_id``
shaped ``module:function`` is a user function's path, not a CS-ID (``execution.kinds``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from suanwang.model import Service

BoolArray = npt.NDArray[np.bool_]


def is_function_path(service_id: str) -> bool:
    """True when ``service_id`` names a user function (``module:function``), not a CS-ID."""
    return ":" in service_id


@dataclass(eq=False)
class ServiceCatalogue:
    """Services by CS-ID and, per service, the nodes its instances run on.

    Args:
        services: The scenario's services (the live catalogue).
        node_ids: The topology's node ids, in array order.
        now_s: The clock instances' ``ready_s`` are read against (inf: every one serves).
    """

    services: dict[str, Service]
    node_ids: tuple[str, ...]
    now_s: float = math.inf
    _masks: dict[str, BoolArray | None] = field(default_factory=dict)

    @classmethod
    def of(cls, services: Iterable[Service], node_ids: Iterable[str]) -> ServiceCatalogue:
        """The catalogue of ``services`` over nodes ``node_ids``."""
        return cls({service.id: service for service in services}, tuple(node_ids))

    def advance(self, now_s: float) -> None:
        """Read instances' ``ready_s`` against ``now_s`` from now on (drops the kept masks)."""
        if now_s != self.now_s:
            self.now_s = now_s
            self._masks.clear()

    def ready_times_s(self) -> list[float]:
        """The distinct ``ready_s`` after time 0 of the instances, ascending."""
        return sorted(
            {i.ready_s for s in self.services.values() for i in s.instances if i.ready_s > 0}
        )

    def knows(self, service_id: str) -> bool:
        """Whether ``service_id`` is a CS-ID of this catalogue."""
        return service_id in self.services

    def hosts(self, service_id: str) -> BoolArray | None:
        """Per node, whether an instance of ``service_id`` runs there (read-only, kept).

        None when the service lists no instance (it may run anywhere) or is not catalogued;
        all False while every instance it lists is still before its ``ready_s``.
        """
        if service_id in self._masks:
            return self._masks[service_id]
        service = self.services.get(service_id)
        mask: BoolArray | None = None
        if service is not None and service.instances:
            on = {i.node_id for i in service.instances if i.ready_s <= self.now_s}
            mask = np.fromiter((n in on for n in self.node_ids), bool, len(self.node_ids))
            mask.flags.writeable = False
        self._masks[service_id] = mask
        return mask

    def instance_on(self, service_id: str | None, node_id: str) -> str | None:
        """The CSCI-ID of ``service_id``'s instance on ``node_id`` (the first by id), if any."""
        service = None if service_id is None else self.services.get(service_id)
        if service is None:
            return None
        ids = sorted(
            str(i.id) for i in service.instances if i.node_id == node_id and i.ready_s <= self.now_s
        )
        return ids[0] if ids else None

    def pending_on(self, service_id: str, node_id: str) -> float | None:
        """The earliest ``ready_s`` still ahead of the clock of an instance on ``node_id``."""
        service = self.services.get(service_id)
        ahead = [
            i.ready_s
            for i in (service.instances if service is not None else ())
            if i.node_id == node_id and i.ready_s > self.now_s
        ]
        return min(ahead) if ahead else None

    def instance_nodes(self, service_id: str) -> list[str]:
        """The nodes ``service_id``'s instances run on, in catalogue order."""
        service = self.services.get(service_id)
        return [] if service is None else [instance.node_id for instance in service.instances]
