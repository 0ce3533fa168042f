"""Compute identifiers in the IETF CATS sense: service ids (CS-ID) and instance ids (CSCI-ID).

A CS-ID names a service independently of where it runs; a CSCI-ID names one reachable instance
of it. Both are derived by hashing, so they are stable (the same provider and name always give
the same CS-ID), collision-resistant across providers, and carry no secret::

    CS-ID   = "cs-"   + hex(SHA-256("cs"   | provider key id | service name))[:24]
    CSCI-ID = "csci-" + hex(SHA-256("csci" | CS-ID | node id | ordinal))[:24]

``|`` is a NUL byte, so no two argument lists hash the same bytes.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from suanwang.model import InstanceId, ServiceId

_HEX_CHARS = 24
_SERVICE_RE = re.compile(rf"cs-[0-9a-f]{{{_HEX_CHARS}}}")
_INSTANCE_RE = re.compile(rf"csci-[0-9a-f]{{{_HEX_CHARS}}}")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:_HEX_CHARS]


def service_id(provider_key_id: str, name: str) -> ServiceId:
    """The CS-ID of service ``name`` offered by the provider holding key ``provider_key_id``."""
    if not name:
        raise ValueError("a service needs a name")
    return ServiceId("cs-" + _digest("cs", provider_key_id, name))


def instance_id(service: ServiceId, node_id: str, ordinal: int = 0) -> InstanceId:
    """The CSCI-ID of the ``ordinal``-th instance of ``service`` on node ``node_id``."""
    if ordinal < 0:
        raise ValueError(f"ordinal must not be negative, got {ordinal}")
    return InstanceId("csci-" + _digest("csci", service, node_id, str(ordinal)))


def random_instance_id() -> InstanceId:
    """A CSCI-ID that reveals nothing about where the instance runs (for ephemeral instances)."""
    return InstanceId("csci-" + secrets.token_hex(_HEX_CHARS // 2))


def is_service_id(text: str) -> bool:
    """True when ``text`` has the shape of a CS-ID."""
    return _SERVICE_RE.fullmatch(text) is not None


def is_instance_id(text: str) -> bool:
    """True when ``text`` has the shape of a CSCI-ID."""
    return _INSTANCE_RE.fullmatch(text) is not None
