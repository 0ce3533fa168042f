"""The composition root: settings become a running control plane (DESIGN.md §3).

``build_plane(Settings())`` opens the database, loads the live scenario and the scheduling
profile and assembles the ``ControlPlane`` (controller, agent dispatch, awareness and the
group-commit writer). It is the one place that names concrete adapters.
"""

from suanwang.bootstrap.build import Built, build_plane, ensure_admin, journal_for
from suanwang.bootstrap.live import Explanation, LiveNetwork
from suanwang.bootstrap.plane import ControlPlane, Submitted
from suanwang.bootstrap.settings import ENV_PREFIX, Settings

__all__ = [
    "ENV_PREFIX",
    "Built",
    "ControlPlane",
    "Explanation",
    "LiveNetwork",
    "Settings",
    "Submitted",
    "build_plane",
    "ensure_admin",
    "journal_for",
]
