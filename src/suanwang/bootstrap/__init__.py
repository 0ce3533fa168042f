"""The composition root: settings become a running control plane (DESIGN.md §3).

``build_plane(Settings())`` opens the database, loads the live scenario and the scheduling
profile and assembles the ``ControlPlane`` (``suanwang.service``) with the concrete adapters:
the stores (``suanwang.storage``) and the agents' dispatch (``suanwang.execution``). It is the
one place that names them (an import-linter contract in ``pyproject.toml`` forbids the rest).
"""

from suanwang.bootstrap.build import (
    Built,
    agent_dispatch,
    build_plane,
    ensure_admin,
    journal_for,
    open_stores,
)
from suanwang.bootstrap.settings import ENV_PREFIX, Settings

__all__ = [
    "ENV_PREFIX",
    "Built",
    "Settings",
    "agent_dispatch",
    "build_plane",
    "ensure_admin",
    "journal_for",
    "open_stores",
]
