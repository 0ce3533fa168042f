"""Access audit: staff reads of another tenant's tasks, results and explanations are recorded.

When an admin or an operator reads data of a tenant other than their own (a task with its
result, a listing across tenants, an explanation; a provider's node's measured metrics), the
audit log gets an ``access.read`` entry
naming who, what and the tenant whose data it was; the entry's time is when. Reads are
coalesced so that a portal polling every two seconds cannot flood the log: at most one entry
per reader, kind of read and tenant per ``ACCESS_AUDIT_INTERVAL_S``, saying how many reads it
stands for (those held back since the previous entry, and itself). The entry is written with
the writer's next group commit; the read does not wait for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from fastapi import Request

from suanwang.api.refusals import RefusalAudit
from suanwang.control.stores import Principal, Role
from suanwang.service import ControlPlane

ACCESS_ACTION = "access.read"
"""Audit action of a staff read of another tenant's data."""

ACCESS_AUDIT_INTERVAL_S = 60.0
"""Least time between two entries of one reader, kind of read and tenant."""

_STAFF = frozenset({Role.ADMIN, Role.OPERATOR})
_LOCK = threading.Lock()


def _windows(request: Request) -> RefusalAudit:
    """The app's coalescing windows, made at first use."""
    state = request.app.state
    with _LOCK:
        found: RefusalAudit | None = getattr(state, "access_audit", None)
        if found is None:
            plane: ControlPlane = state.plane
            found = state.access_audit = RefusalAudit(ACCESS_AUDIT_INTERVAL_S, plane.clock.now_s)
    return found


def audit_read(request: Request, who: Principal, what: str, tenants: Iterable[str]) -> None:
    """Record ``who``'s read ``what`` of the data of ``tenants`` (other tenants', by staff).

    Args:
        request: The request (its app holds the plane and the windows).
        who: The reader.
        what: What was read, e.g. ``task:7f3a`` or ``tasks`` (a listing).
        tenants: The tenants whose data the answer holds.
    """
    if not who.roles & _STAFF:
        return
    others = sorted(set(tenants) - {who.tenant})
    if not others:
        return
    plane: ControlPlane = request.app.state.plane
    kind = what.split(":", 1)[0]
    windows = _windows(request)
    for tenant in others:
        count = windows.admit(who.id, f"{kind}@{tenant}")
        if count:
            detail = f"{what} of tenant {tenant} ({count} such reads in this window)"
            plane.record(who, ACCESS_ACTION, f"tenant:{tenant}", detail)
